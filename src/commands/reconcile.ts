import { parseWhen, toUnixSeconds } from "../duration";
import { openContext } from "./context";
import { EXIT, ExitCode } from "../errors";
import { progressReporter } from "./progress";
import { PassReport } from "../pass/reconcile";
import { runPass } from "../pass/run-pass";

export interface ReconcileFlags {
  dryRun?: boolean;
  since?: string;
  json?: boolean;
}

export async function reconcileCommand(flags: ReconcileFlags, signal?: AbortSignal): Promise<ExitCode> {
  const ctx = await openContext({ send: !flags.dryRun, readonly: flags.dryRun });
  try {
    const now = ctx.deps.clock.now();
    const since = flags.since === undefined ? undefined : toUnixSeconds(parseWhen(flags.since, now, "--since"));
    const progress = progressReporter(!flags.json);
    let report: PassReport;
    try {
      report = await runPass({ ...ctx.deps, signal }, { since, dryRun: flags.dryRun, onProgress: progress.update });
    } finally {
      progress.stop();
    }
    // Exit 0 means nothing is stuck, whether or not this pass handled it: a charge left in
    // needs_review (or waiting for a retry) by an earlier pass keeps the exit code at 1.
    const stuckIds = new Set((await ctx.deps.ledger.stuck(ctx.deps.clock.now() - ctx.config.stuckAfterMs)).map((r) => r.id));
    for (const u of report.undelivered) stuckIds.add(u.charge);
    print(report, flags, stuckIds.size);
    return stuckIds.size > 0 ? EXIT.attention : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function print(report: PassReport, flags: ReconcileFlags, stuck: number): void {
  const { inFlightElsewhere: _internal, ...counts } = report.counts;
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...counts, dryRun: flags.dryRun === true, undelivered: report.undelivered }, null, 2) + "\n");
    return;
  }
  const c = report.counts;
  const verb = flags.dryRun ? "would deliver" : "delivered";
  const lines = [
    `${flags.dryRun ? "dry run (nothing sent, nothing written): " : ""}seen ${c.seen}, ${verb} ${c.delivered}, already delivered ${c.alreadyDelivered}, retrying ${c.retrying}, needs review ${c.needsReview}, skipped ${c.skipped}, awaiting payment ${c.awaitingPayment}`,
  ];
  for (const item of report.plan) lines.push(`  ${item.charge}: ${item.action}`);
  if (!flags.dryRun) {
    for (const u of report.undelivered) lines.push(`  ${u.charge}: ${u.state}: ${u.reason ?? ""}`);
  }
  if (stuck > 0) lines.push(`${stuck} charge(s) stuck; paidup status lists them`);
  if (!report.complete) lines.push("stopped before the end of the listing; the next pass continues");
  process.stdout.write(lines.join("\n") + "\n");
}
