import { alertFailingPasses, alertNewlyStuck, clearFailureAlert, deliverAlerts } from "./alerts";
import { watchAfterDelivery } from "./after-delivery";
import { pollEmailStatus } from "./email-poll";
import { recordPass } from "./pass-record";
import type { PassDeps } from "./pass-deps";
import { PassOptions, PassReport, reconcileOnce } from "./reconcile";
import { redact } from "../redact";

/**
 * A pass as the CLI, the daemon and `serve` run it: the pass itself, then its health record
 * and alerts. A dry run records nothing and alerts nobody.
 */
export async function runPass(deps: PassDeps, opts: PassOptions = {}): Promise<PassReport> {
  const startedAt = deps.clock.now();
  // Before anything is claimed or recorded: is the ledger file we write the one its path names?
  await deps.ledger.verifyIdentity();
  let report: PassReport;
  try {
    report = await reconcileOnce(deps, opts);
  } catch (err) {
    if (!opts.dryRun) {
      const error = redact(err instanceof Error ? err.message : String(err));
      // With the database server away (restarting, failing over), the record and the alert
      // cannot be written either; the pass's own one-line reason already says why.
      const ledgerAway = (e: unknown) => deps.ledger.unavailable(err) && deps.ledger.unavailable(e);
      try {
        await recordPass(deps.ledger, { startedAt, finishedAt: deps.clock.now(), ok: false, error });
      } catch (recordErr) {
        // A locked ledger cannot take the record either: report the pass's own failure, not this one.
        deps.log[ledgerAway(recordErr) ? "debug" : "error"]("could not record the failed pass", { error: redact(String(recordErr)) });
      }
      await alertFailingPasses(deps, error).catch((alertErr: unknown) =>
        deps.log[ledgerAway(alertErr) ? "debug" : "error"]("could not send the failing-pass alert", { error: redact(String(alertErr)) }));
    }
    throw err;
  }
  deps.log.info(`pass ${report.complete ? "finished" : "stopped early"}`, { ...report.counts, ms: report.finishedAt - startedAt });
  if (!opts.dryRun) {
    // Before the alerts, so a bounce found by asking Resend is alerted by this same pass.
    const polled = await pollEmailStatus(deps).catch((err: unknown) => {
      deps.log.warn("could not ask Resend about sent emails; the next pass asks again", { error: redact(String(err)) });
      return null;
    });
    if (polled && polled.checked > 0) deps.log.info("asked Resend about sent emails", { checked: polled.checked, bounced: polled.bounced });
    await recordPass(deps.ledger, { startedAt, finishedAt: report.finishedAt, ok: true, counts: report.counts });
    await clearFailureAlert(deps);
    // A failing alert never fails a pass: recording it is logged if it fails, delivering never throws.
    await alertNewlyStuck(deps).catch((err: unknown) => deps.log.error("could not record the stuck-charge alert", { error: redact(String(err)) }));
    await watchAfterDelivery(deps);
    // Once, after every alert of this pass is recorded: this pass's and those a channel refused before.
    await deliverAlerts(deps);
  }
  return report;
}
