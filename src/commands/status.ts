import { systemClock } from "../clock";
import { loadEnv, requireStripeKey } from "../env";
import { loadThresholds } from "../thresholds";
import { openLookContext } from "./look-context";
import { EXIT, ExitCode } from "../errors";
import type { StuckEntry } from "../pass/report";
import { collectStatus, StatusReport } from "../pass/status";
import { catalogLoader } from "./catalog-loader";
import { formatAmount } from "../delivery/currencies";
import { formatAge, formatTable } from "./format";

export interface StatusFlags {
  json?: boolean;
  offline?: boolean;
}

/** Read-only: the ledger is opened read-only and nothing is sent. */
export async function statusCommand(flags: StatusFlags): Promise<ExitCode> {
  const env = loadEnv();
  // --offline is the monitor that works with no keys at all (only the config's thresholds).
  const stripeKey = flags.offline ? undefined : requireStripeKey(env);
  const thresholds = loadThresholds(env.configPath);
  const ctx = await openLookContext(env, stripeKey);
  try {
    const now = systemClock.now();
    const report = await collectStatus(ctx.ledger, ctx.stripe, thresholds, now, catalogLoader(env.configPath));
    process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + "\n" : human(report, now, flags.offline === true));
    return report.ok ? EXIT.ok : EXIT.attention;
  } finally {
    await ctx.close();
  }
}

function human(report: StatusReport, now: number, offline: boolean): string {
  const lines: string[] = [];
  const last = report.lastPass;
  if (!last) {
    lines.push("last pass: none yet (run `paidup reconcile`, or start `paidup daemon`)");
  } else {
    const age = formatAge(now - Date.parse(last.finishedAt));
    const outcome = last.ok ? "ok" : "FAILED";
    lines.push(`last pass: ${last.finishedAt} (${age} ago), ${outcome}${last.stale ? "; STALE: no successful pass for longer than staleAfter" : ""}`);
  }
  if (report.stuck.length === 0) {
    lines.push(`nothing stuck${offline ? " (ledger only: --offline did not ask Stripe for charges without a row)" : ""}`);
  } else {
    lines.push(`${report.stuck.length} stuck charge(s):`, "");
    lines.push(...formatTable(["CHARGE", "STATE", "AGE", "ATTEMPTS", "AMOUNT", "EMAIL", "PRODUCT", "REASON"], report.stuck.map((e) => row(e, now))));
    lines.push("", "paidup show <charge> for its history; paidup retry <charge> once the cause is fixed;", 'paidup resolve <charge> --note "…" if it was delivered by hand.');
    // A bounce is not fixed by retry: the address is wrong or dead.
    for (const e of report.stuck.filter((x) => x.state === "bounced")) {
      lines.push(`${e.charge} bounced (${e.reason ?? "no reason given"}): check the address with the buyer, then paidup resend ${e.charge} --to <address>`);
    }
  }
  if (report.afterDelivery.length > 0) {
    lines.push("", `${report.afterDelivery.length} delivered charge(s) refunded or disputed since (links revoked):`, "");
    lines.push(...formatTable(["CHARGE", "EVENT", "AT", "DOWNLOADS BEFORE"], report.afterDelivery.map((a) => [a.charge, a.event, a.at, String(a.downloads)])));
    if (report.afterDelivery.some((a) => a.event === "disputed")) lines.push("", "paidup evidence <charge> gathers the proof of delivery for a dispute.");
  }
  return lines.join("\n") + "\n";
}

function row(e: StuckEntry, now: number): string[] {
  const age = formatAge(now - Date.parse(e.created));
  return [e.charge, e.state, age, String(e.attempts), formatAmount(e.amount, e.currency), e.email ?? "-", e.product ?? "-", e.reason ?? "-"];
}

