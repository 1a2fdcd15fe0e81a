import fs from "node:fs";
import path from "node:path";

// The measuring wrapper: `node dist/bench/child.js <usage.json> <script> [args…]` runs the script
// in this very process (so its figures are the script's) and writes process.resourceUsage() to
// usage.json on exit: peak RSS (maxRSS, KiB) and user/system CPU (µs) at µs resolution, which
// /usr/bin/time -v (10 ms, and not on every box) cannot give for a per-charge cost.

const [usageFile, script, ...args] = process.argv.slice(2);
if (!usageFile || !script) {
  process.stderr.write("usage: child.js <usage.json> <script> [args…]\n");
  process.exit(2);
}
process.on("exit", () => {
  fs.writeFileSync(usageFile, JSON.stringify(process.resourceUsage()));
});
// The script sees the argv it would have had if run directly (bin/paidup reads process.argv).
process.argv = [process.argv[0] as string, path.resolve(script), ...args];
// eslint-disable-next-line @typescript-eslint/no-require-imports
require(path.resolve(script));
