import crypto from "node:crypto";
import { isoMs } from "../duration";
import type { ChargeRow } from "../ledger";
import { lastSuccessAt } from "./pass-record";
import type { PassDeps } from "./pass-deps";
import { howToFix } from "./stuck-advice";
import { formatAmount } from "../delivery/templates";

// The owner hears about a stuck customer within one pass, once per stuck episode: `alerted` is
// reset only when the charge is delivered, resolved, leaves the stuck states or is put back with
// `retry`, so failed retries in a row mail nobody and fixing and re-breaking alerts again.

function describe(row: ChargeRow, maxAttempts: number, now: number): string {
  return [
    `- ${row.id}  ${row.state}  ${formatAmount(row.amount, row.currency)}  ${row.email ?? "(no email)"}  ${row.product ?? "(no product)"}`,
    `  why: ${row.reason ?? "a send has been in flight longer than stuckAfter"}`,
    `  fix: ${howToFix(row, maxAttempts, now)}`,
  ].join("\n");
}

async function sendAlert(deps: PassDeps, subject: string, text: string, key: string): Promise<boolean> {
  const { config, mailer } = deps;
  if (!config.alertTo || !mailer) return false;
  await mailer.waitTurn();
  const result = await mailer.send({ from: config.from, to: config.alertTo, subject, text }, key);
  if (!result.ok && result.inFlightElsewhere) {
    // Two daemons (or a daemon and a manual reconcile) found the same stuck charges and built the
    // same alert: Resend is sending the other one's copy under the same key. Nothing failed.
    deps.log.info("another paidup process is sending this same alert; it records it", { key });
  } else if (!result.ok) {
    deps.log.error("alert email failed; it is tried again after the next pass", { error: result.reason });
  }
  return result.ok;
}

/** One email listing every charge that became stuck since the last alert. */
export async function alertNewlyStuck(deps: PassDeps): Promise<number> {
  if (!deps.config.alertTo || !deps.mailer) return 0;
  const rows = await deps.ledger.unalertedStuck(deps.clock.now() - deps.config.stuckAfterMs);
  if (rows.length === 0) return 0;
  const ids = rows.map((r) => r.id);
  // state_since is in the key: a charge stuck again after a fix must make a new email, which a
  // key made of the ids alone would not (Resend replays the first alert for 24 hours).
  const stamp = rows.map((r) => `${r.id}@${r.state_since}`).join(",");
  const key = `paidup-alert-${crypto.createHash("sha256").update(stamp).digest("hex").slice(0, 32)}`;
  const text = [
    `${rows.length} paid charge(s) need attention: the customer has not received what they paid for.`,
    "",
    ...rows.map((r) => describe(r, deps.config.retry.maxAttempts, deps.clock.now())),
    "",
    "paidup status   lists everything that is stuck.",
  ].join("\n");
  const sent = await sendAlert(deps, `[paidup] ${rows.length} charge(s) stuck`, text, key);
  if (sent) await deps.ledger.markAlerted(ids);
  return sent ? rows.length : 0;
}

/** Passes failing for longer than staleAfter: one alert per failing streak. */
export async function alertFailingPasses(deps: PassDeps, error: string): Promise<void> {
  const { ledger, clock, config } = deps;
  const lastOk = await lastSuccessAt(ledger);
  if (lastOk !== null && clock.now() - lastOk <= config.staleAfterMs) return;
  if ((await ledger.getMeta("failure_alerted")) === "1") return;
  const since = lastOk === null ? "no pass has ever succeeded" : `the last successful pass finished ${isoMs(lastOk)}`;
  const text = `paidup passes are failing and ${since}.\n\nLast error: ${error}\n\nUntil this is fixed, paid charges are not being delivered.\nRun: paidup status   and   paidup check`;
  const key = `paidup-alert-failing-${lastOk ?? 0}`;
  if (await sendAlert(deps, "[paidup] passes are failing", text, key)) await ledger.setMeta("failure_alerted", "1");
}

export function clearFailureAlert(deps: PassDeps): Promise<void> {
  return deps.ledger.deleteMeta("failure_alerted");
}
