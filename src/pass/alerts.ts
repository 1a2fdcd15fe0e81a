import crypto from "node:crypto";
import { AlertChannel, deliverPendingAlerts, EmailChannel } from "../alerts";
import { isoMs } from "../duration";
import type { AlertKind, AlertMark, ChargeRow } from "../ledger";
import { redact } from "../redact";
import { STATE } from "../states";
import { lastSuccessAt } from "./pass-record";
import type { PassDeps } from "./pass-deps";
import { howToFix } from "./stuck-advice";
import { formatAmount } from "../delivery/templates";

// What to alert, decided once per pass and recorded once (with what it marks as alerted, in the
// same transaction); the channels then deliver it, each on its own (../alerts/outbox.ts).
// The owner hears about a stuck customer within one pass, once per stuck episode: `alerted` is
// reset only when the charge is delivered, resolved, leaves the stuck states or is put back with
// `retry`, so failed retries in a row alert nobody and fixing and re-breaking alerts again.
// A channel's failure no longer leaves the charges unalerted: with Resend down, the webhook
// still hears it once, and the email goes out once Resend is back.

/** The channels alerts go through: the context's, or (tests building deps by hand) email to alertTo. */
export function channelsOf(deps: PassDeps): readonly AlertChannel[] {
  if (deps.alertChannels) return deps.alertChannels;
  return deps.config.alertTo && deps.mailer ? [new EmailChannel(deps.mailer, deps.config.from, deps.config.alertTo)] : [];
}

/** An alert's id: its kind and a digest of what makes it this alert (two passes building it agree). */
export function alertId(kind: AlertKind, stamp: string): string {
  return `${kind}-${crypto.createHash("sha256").update(stamp).digest("hex").slice(0, 32)}`;
}

/** Records one alert for every configured channel, marking what it names; false with no channel. */
export async function recordAlert(
  deps: PassDeps,
  a: { kind: AlertKind; stamp: string; subject: string; body: string; charges: readonly string[] },
  mark: AlertMark,
): Promise<boolean> {
  const channels = channelsOf(deps);
  if (channels.length === 0) return false;
  const alert = { id: alertId(a.kind, a.stamp), kind: a.kind, subject: a.subject, body: a.body, charges: a.charges };
  return deps.ledger.recordAlert(alert, channels.map((c) => c.name), mark, deps.clock.now());
}

/** Every recorded alert a channel has not taken yet, through that channel. Never throws. */
export async function deliverAlerts(deps: PassDeps): Promise<void> {
  const channels = channelsOf(deps);
  if (channels.length > 0) await deliverPendingAlerts(deps, channels);
}

function describe(row: ChargeRow, maxAttempts: number, now: number): string {
  return [
    `- ${row.id}  ${row.state}  ${formatAmount(row.amount, row.currency)}  ${row.email ?? "(no email)"}  ${row.product ?? "(no product)"}`,
    `  why: ${row.reason ?? "a send has been in flight longer than stuckAfter"}`,
    `  fix: ${howToFix(row, maxAttempts, now)}`,
  ].join("\n");
}

/**
 * Records one alert per kind for the charges that became stuck since the last alert: bounced
 * ones apart from the others (one alert, one kind). Returns how many charges were alerted.
 */
export async function alertNewlyStuck(deps: PassDeps): Promise<number> {
  if (channelsOf(deps).length === 0) return 0;
  const rows = await deps.ledger.unalertedStuck(deps.clock.now() - deps.config.stuckAfterMs);
  const bounced = rows.filter((r) => r.state === STATE.bounced);
  const stuck = rows.filter((r) => r.state !== STATE.bounced);
  let alerted = 0;
  if (stuck.length > 0) {
    const ok = await recordCharges(deps, "stuck", stuck, `[paidup] ${stuck.length} charge(s) stuck`,
      `${stuck.length} paid charge(s) need attention: the customer has not received what they paid for.`);
    if (ok) alerted += stuck.length;
  }
  if (bounced.length > 0) {
    const ok = await recordCharges(deps, "bounced", bounced, `[paidup] ${bounced.length} delivery email(s) bounced`,
      `${bounced.length} paid charge(s) whose delivery email bounced: the customer has not received what they paid for.`);
    if (ok) alerted += bounced.length;
  }
  return alerted;
}

async function recordCharges(deps: PassDeps, kind: AlertKind, rows: ChargeRow[], subject: string, lead: string): Promise<boolean> {
  const now = deps.clock.now();
  const body = [lead, "", ...rows.map((r) => describe(r, deps.config.retry.maxAttempts, now)), "", "paidup status   lists everything that is stuck."].join("\n");
  // state_since is in the id: a charge stuck again after a fix makes a new alert, which an id
  // made of the charge ids alone would not (and Resend would replay the first one for 24 hours).
  const stamp = rows.map((r) => `${r.id}@${r.state_since}`).join(",");
  const ids = rows.map((r) => r.id);
  return recordAlert(deps, { kind, stamp, subject, body, charges: ids }, { charges: ids });
}

/** Passes failing for longer than staleAfter: one alert per failing streak, delivered at once. */
export async function alertFailingPasses(deps: PassDeps, error: string): Promise<void> {
  const { ledger, clock, config } = deps;
  const lastOk = await lastSuccessAt(ledger);
  if (lastOk !== null && clock.now() - lastOk <= config.staleAfterMs) return;
  if ((await ledger.getMeta("failure_alerted")) === "1") return;
  const since = lastOk === null ? "no pass has ever succeeded" : `the last successful pass finished ${isoMs(lastOk)}`;
  const body = `paidup passes are failing and ${since}.\n\nLast error: ${redact(error)}\n\nUntil this is fixed, paid charges are not being delivered.\nRun: paidup status   and   paidup check`;
  await recordAlert(deps, { kind: "stale", stamp: String(lastOk ?? 0), subject: "[paidup] passes are failing", body, charges: [] }, { failingStreak: true });
  await deliverAlerts(deps);
}

export function clearFailureAlert(deps: PassDeps): Promise<void> {
  return deps.ledger.deleteMeta("failure_alerted");
}
