// Imports nothing: bin/paidup's bundle for `status` (./status-main) reads it before it decides
// whether to load anything else.

/**
 * `status --offline` (with or without `--json`, in either order) is what a cron monitor runs
 * every minute: it is parsed here, without loading commander (about half of the JavaScript such
 * a run loads). Anything else, `--help` included, goes through commander.
 */
export function offlineStatusFlags(argv: string[]): { offline: true; json: boolean } | null {
  const args = argv.slice(2);
  if (args[0] !== "status" || args.length > 3) return null;
  const flags = new Set(args.slice(1));
  if (flags.size !== args.length - 1 || !flags.has("--offline") || ![...flags].every((f) => f === "--offline" || f === "--json")) return null;
  return { offline: true, json: flags.has("--json") };
}
