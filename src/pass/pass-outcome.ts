import { EXIT, ExitCode } from "../errors";
import type { Heartbeat } from "../heartbeat";
import type { PassOutcome } from "../metrics";
import type { PassDeps } from "./pass-deps";
import type { PassOptions, PassReport } from "./reconcile";
import { runPass } from "./run-pass";

/**
 * The charges that make a pass end with exit 1: 0 only when nothing is stuck, whether or not this pass
 * handled it (a charge left in needs_review by an earlier pass keeps it at 1), so a cron
 * MAILTO, a wrapper script or a heartbeat monitor never reads silence as "all good".
 */
export async function stuckAfterPass(deps: PassDeps, report: PassReport): Promise<number> {
  const stuck = new Set((await deps.ledger.stuck(deps.clock.now() - deps.config.stuckAfterMs)).map((r) => r.id));
  for (const u of report.undelivered) stuck.add(u.charge);
  return stuck.size;
}

export interface WatchedPass {
  report: PassReport;
  code: ExitCode;
  /** Charges stuck once the pass ended, this pass's and earlier ones. */
  stuck: number;
}

/**
 * A pass as the outside sees it (`reconcile`, each pass of `daemon`): its exit code, counted in
 * the metrics and told to the heartbeat monitor: `<url>` as exit 0, `<url>/fail` otherwise
 * (a pass that threw is exit 3). A dry run tells nobody: it proves nothing about delivery.
 */
export async function runWatchedPass(deps: PassDeps, opts: PassOptions, heartbeat: Heartbeat | null): Promise<WatchedPass> {
  let outcome: PassOutcome = "failed";
  try {
    const report = await runPass(deps, opts);
    const stuck = await stuckAfterPass(deps, report);
    const code = stuck > 0 ? EXIT.attention : EXIT.ok;
    outcome = code === EXIT.ok ? "ok" : "attention";
    return { report, code, stuck };
  } finally {
    if (!opts.dryRun) {
      deps.metrics?.passes.inc({ outcome });
      await heartbeat?.beat(outcome === "ok");
    }
  }
}
