import { STATE } from "../states";
import type { Sql } from "./sql";

// What Resend said about the emails paidup sent (webhook events, or `emails.get` when polled),
// and the one transition they cause: a delivered charge whose email bounced becomes `bounced`.

/** Resend's events that mean the buyer's mail server never took the email. */
export const BOUNCE_TYPES = ["email.bounced", "email.failed", "email.suppressed"] as const;
/** Events after which Resend will say nothing more that matters: polling stops. */
export const FINAL_TYPES = [...BOUNCE_TYPES, "email.delivered", "email.complained"] as const;

const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(", ");

export interface EmailEvent {
  /** svix-id, or `poll:<email id>:<event>` for what a pass read with `emails.get`. */
  id: string;
  emailId: string;
  type: string;
  at: number;
  detail: string | null;
  source: "webhook" | "poll";
}

export interface EmailEventRow {
  id: string;
  email_id: string;
  charge_id: string | null;
  type: string;
  at: number;
  detail: string | null;
  source: string;
  received_at: number;
}

/** The charge an email of paidup's belongs to (one of its deliveries, or a `resend` of it), if any. */
export async function chargeOfEmail(db: Sql, emailId: string): Promise<string | null> {
  const row =
    (await db.one<{ id: string }>("SELECT charge_id AS id FROM deliveries WHERE email_id = ?", [emailId])) ??
    (await db.one<{ id: string }>("SELECT id FROM charges WHERE email_id = ?", [emailId])) ??
    (await db.one<{ id: string }>("SELECT charge_id AS id FROM attempts WHERE email_id = ? ORDER BY id DESC LIMIT 1", [emailId]));
  return row?.id ?? null;
}

const RESEND_RUN = /^r(\d+)\b/;

/**
 * The emails of the charge's latest send round: its deliveries' emails until the first
 * `paidup resend`, then the emails of the latest resend run. A bounce of any of them means the
 * buyer has not got what they paid for; a late bounce of an earlier round's email does not.
 */
async function currentEmails(db: Sql, charge: string): Promise<Set<string>> {
  const resent = await db.query<{ email_id: string | null; note: string | null }>("SELECT email_id, note FROM attempts WHERE charge_id = ? AND outcome = 'resent'", [charge]);
  const runOf = (note: string | null) => Number(RESEND_RUN.exec(note ?? "")?.[1] ?? 0);
  const latest = Math.max(0, ...resent.map((r) => runOf(r.note)));
  if (latest > 0) return new Set(resent.filter((r) => runOf(r.note) === latest && r.email_id).map((r) => r.email_id as string));
  const deliveries = await db.query<{ email_id: string | null }>("SELECT email_id FROM deliveries WHERE charge_id = ?", [charge]);
  const row = await db.one<{ email_id: string | null }>("SELECT email_id FROM charges WHERE id = ?", [charge]);
  return new Set([...deliveries.map((d) => d.email_id), row?.email_id ?? null].filter((x): x is string => x !== null));
}

/**
 * Records an event once (its id is unique: a redelivered webhook is a no-op). `charge` is null
 * for an email paidup did not send (alerts, another app on the same Resend team).
 */
export async function recordEmailEvent(db: Sql, e: EmailEvent, now: number): Promise<{ fresh: boolean; charge: string | null }> {
  return db.transaction(async (tx) => {
    const charge = await chargeOfEmail(tx, e.emailId);
    const fresh =
      (await tx.exec(
        `INSERT INTO email_events (id, email_id, charge_id, type, at, detail, source, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        [e.id, e.emailId, charge, e.type, e.at, e.detail, e.source, now],
      )) === 1;
    return { fresh, charge };
  });
}

/**
 * A bounce of one of the charge's current emails makes a delivered charge `bounced` (stuck,
 * alerted once more). With several products, a bounce of any of its emails is enough.
 */
export async function markBounced(db: Sql, charge: string, emailId: string, reason: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await currentEmails(tx, charge)).has(emailId)) return false;
    const changed = await tx.exec(
      `UPDATE charges SET state = '${STATE.bounced}', reason = ?, alerted = 0, state_since = ?, updated_at = ?
       WHERE id = ? AND state = '${STATE.delivered}'`,
      [reason, now, now, charge],
    );
    if (changed === 1) {
      await tx.exec("INSERT INTO attempts (charge_id, at, outcome, email_id, error, note) VALUES (?, ?, 'bounced', ?, ?, NULL)", [charge, now, emailId, reason]);
    }
    return changed === 1;
  });
}

export function emailEventsOf(db: Sql, charge: string): Promise<EmailEventRow[]> {
  return db.query<EmailEventRow>("SELECT * FROM email_events WHERE charge_id = ? ORDER BY at, received_at", [charge]);
}

/**
 * Delivery emails sent between `sentSince` and `sentBefore` with no final word from Resend yet, not asked about
 * since `checkedBefore`: the ones a pass polls when no webhook tells it. Oldest first.
 */
export function emailsToCheck(db: Sql, sentSince: number, sentBefore: number, checkedBefore: number, limit: number): Promise<{ charge_id: string; email_id: string }[]> {
  return db.query(
    `SELECT d.charge_id AS charge_id, d.email_id AS email_id FROM charges c
       JOIN deliveries d ON d.charge_id = c.id
       LEFT JOIN email_checks k ON k.email_id = d.email_id
     WHERE c.state_since >= ? AND c.state_since <= ? AND c.state = '${STATE.delivered}' AND d.email_id IS NOT NULL
       AND (k.checked_at IS NULL OR k.checked_at < ?)
       AND NOT EXISTS (SELECT 1 FROM email_events e WHERE e.email_id = d.email_id AND e.type IN (${list(FINAL_TYPES)}))
     ORDER BY k.checked_at IS NOT NULL, c.state_since LIMIT ?`,
    [sentSince, sentBefore, checkedBefore, limit],
  );
}

export async function recordEmailCheck(db: Sql, emailId: string, charge: string, lastEvent: string | null, now: number): Promise<void> {
  await db.exec(
    `INSERT INTO email_checks (email_id, charge_id, checked_at, last_event) VALUES (?, ?, ?, ?)
     ON CONFLICT (email_id) DO UPDATE SET checked_at = excluded.checked_at, last_event = excluded.last_event`,
    [emailId, charge, now, lastEvent],
  );
}
