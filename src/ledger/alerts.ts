import type { Sql } from "./sql";

// Alerts to the owner, recorded once by the pass that decided them and delivered per channel
// (email, chat webhook), each channel on its own row: one channel failing (Resend down) never
// holds back the other, and the failed one is tried again after later passes until it takes it.

export type AlertKind = "stuck" | "bounced" | "disputed" | "stale" | "test";

export interface NewAlert {
  id: string;
  kind: AlertKind;
  subject: string;
  body: string;
  charges: readonly string[];
}

export interface AlertRow extends NewAlert {
  created_at: number;
}

/** One channel's delivery of one alert that the channel has not taken yet. */
export interface PendingAlertSend {
  alert: AlertRow;
  channel: string;
  attempts: number;
  last_error: string | null;
  /** Another process holds it until then (it is delivering it now), or null. */
  lease_until: number | null;
}

/** What recording an alert also marks as alerted, in the same transaction. */
export type AlertMark =
  | { charges: readonly string[] } // stuck or bounced: the charges' `alerted` (one alert per stuck episode)
  | { disputes: readonly string[] } // after_delivery's disputed rows
  | { failingStreak: true } // meta failure_alerted: one alert per streak of failing passes
  | Record<string, never>;

/**
 * Records an alert and one pending send per channel, and marks what it names as alerted, in one
 * transaction: the decision is made once, whatever the channels do after. False when the same
 * alert was already recorded (another process built it first): that one delivers it.
 */
export function recordAlert(db: Sql, a: NewAlert, channels: readonly string[], mark: AlertMark, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const fresh = await tx.exec(
      "INSERT INTO alerts (id, kind, subject, body, charges, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      [a.id, a.kind, a.subject, a.body, JSON.stringify(a.charges), now],
    );
    if (fresh !== 1) return false;
    for (const channel of channels) await tx.exec("INSERT INTO alert_sends (alert_id, channel) VALUES (?, ?)", [a.id, channel]);
    if ("charges" in mark) for (const id of mark.charges) await tx.exec("UPDATE charges SET alerted = 1 WHERE id = ?", [id]);
    if ("disputes" in mark) for (const c of mark.disputes) await tx.exec("UPDATE after_delivery SET alerted = 1 WHERE charge_id = ? AND event = 'disputed'", [c]);
    if ("failingStreak" in mark) {
      await tx.exec("INSERT INTO meta (key, value) VALUES ('failure_alerted', '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    }
    return true;
  });
}

interface PendingRaw {
  id: string; kind: AlertKind; subject: string; body: string; charges: string; created_at: unknown;
  channel: string; attempts: unknown; last_error: string | null; lease_until: unknown;
}

/** The sends of `channel` not yet taken, oldest alert first, at most `limit`. */
export async function pendingAlertSends(db: Sql, channel: string, limit: number): Promise<PendingAlertSend[]> {
  const rows = await db.query<PendingRaw>(
    `SELECT a.id, a.kind, a.subject, a.body, a.charges, a.created_at, s.channel, s.attempts, s.last_error, s.lease_until
       FROM alert_sends s JOIN alerts a ON a.id = s.alert_id
      WHERE s.channel = ? AND s.sent_at IS NULL
      ORDER BY a.created_at, a.id LIMIT ?`,
    [channel, limit],
  );
  return rows.map((r) => ({
    alert: { id: r.id, kind: r.kind, subject: r.subject, body: r.body, charges: JSON.parse(r.charges) as string[], created_at: Number(r.created_at) },
    channel: r.channel,
    attempts: Number(r.attempts),
    last_error: r.last_error,
    lease_until: r.lease_until === null ? null : Number(r.lease_until),
  }));
}

/**
 * Takes one send for `owner` until `leaseUntil`, unless taken already or held by a live lease:
 * two processes finishing passes at once deliver each alert once, not twice.
 */
export async function claimAlertSend(db: Sql, alertId: string, channel: string, owner: string, now: number, leaseUntil: number): Promise<boolean> {
  const changed = await db.exec(
    `UPDATE alert_sends SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
      WHERE alert_id = ? AND channel = ? AND sent_at IS NULL AND (lease_until IS NULL OR lease_until < ?)`,
    [owner, leaseUntil, alertId, channel, now],
  );
  return changed === 1;
}

/** The channel took it (an email id, a 2xx): never delivered again. */
export async function markAlertSent(db: Sql, alertId: string, channel: string, owner: string, now: number): Promise<void> {
  await db.exec(
    "UPDATE alert_sends SET sent_at = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL WHERE alert_id = ? AND channel = ? AND lease_owner = ?",
    [now, alertId, channel, owner],
  );
}

/** The channel failed: the send stays pending for a later pass, with the reason kept. */
export async function markAlertFailed(db: Sql, alertId: string, channel: string, owner: string, error: string): Promise<void> {
  await db.exec(
    "UPDATE alert_sends SET last_error = ?, lease_owner = NULL, lease_until = NULL WHERE alert_id = ? AND channel = ? AND lease_owner = ?",
    [error, alertId, channel, owner],
  );
}
