import { parseWhen, toUnixSeconds } from "../duration";
import { openContext } from "./context";
import type { ExitCode } from "../errors";
import { progressReporter } from "./progress";
import { PassReport } from "../pass/reconcile";
import { heartbeatFromEnv } from "../heartbeat";
import { log } from "../log";
import { runWatchedPass, WatchedPass } from "../pass/pass-outcome";

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
    const heartbeat = heartbeatFromEnv(ctx.env.heartbeatUrl, log);
    let watched: WatchedPass;
    try {
      watched = await runWatchedPass({ ...ctx.deps, signal }, { since, dryRun: flags.dryRun, onProgress: progress.update }, heartbeat);
    } finally {
      progress.stop();
    }
    print(watched.report, flags, watched.stuck);
    return watched.code;
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
