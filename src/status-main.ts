import path from "node:path";
import { offlineStatusFlags } from "./offline-flags";

// `status --offline` is what a cron monitor runs every minute, so its start-up is most of what
// it costs. On Node 20 (no compile cache of its own), finding, reading and compiling the ~50
// modules it needs, better-sqlite3's included, took longer than the work. `npm run build`
// therefore bundles this module and what it requires into one file, dist/status.js
// (scripts/bundle-status.mjs), and writes its V8 code cache; bin/paidup runs it for
// `paidup status …`. It is the CLI's own code from the same sources, and this module only runs
// from that bundle.

/** better-sqlite3's version whose JavaScript the bundle carries (set by the bundler). */
declare const BUNDLED_SQLITE_VERSION: string;

/* eslint-disable @typescript-eslint/no-require-imports -- nothing else of the bundle runs until
   main has decided; the CLI proper comes from its own files, so it never meets the bundle's copy */
const cli = () => require(path.join(__dirname, "src", "cli.js")) as typeof import("./cli");
const cliRun = () => require("./cli-run") as typeof import("./cli-run");
const status = () => require("./commands/status") as typeof import("./commands/status");
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The bundle carries better-sqlite3's JavaScript, while the addon is the installed one: after an
 * upgrade of better-sqlite3 without a new build the two could differ, and then the CLI, which
 * loads both from the install, answers instead.
 */
function installedSqliteIsBundled(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require("better-sqlite3/package.json") as { version: string }).version === BUNDLED_SQLITE_VERSION;
  } catch {
    return false;
  }
}

export async function main(argv: string[]): Promise<void> {
  const offline = offlineStatusFlags(argv);
  // Anything but `status --offline [--json]` (status asking Stripe, --help, a typo) is the CLI's.
  if (!offline || !installedSqliteIsBundled()) return cli().main(argv);
  await cliRun().runCli(argv, () => status().statusCommand(offline));
}
