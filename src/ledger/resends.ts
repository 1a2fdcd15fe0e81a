import { keepFormerAddress } from "./buyers";
import type { Sql } from "./sql";

// `paidup resend`: each run is one numbered re-send (`r<n>`). A run's payloads are stored (table
// resend_runs) before its first send; the run is complete once Resend accepted every product of
// it, and until then every `resend` completes it, with the same keys and the same bytes, instead
// of starting the next. Accepted and failed sends are also kept in the attempt history.

const RUN = /^r(\d+)\b/;

export interface ResendRunRow {
  charge_id: string;
  run: number;
  product: string;
  position: number;
  send_key: string;
  recipient: string;
  corrected: number;
  payload: string;
  email_id: string | null;
  outcome_unknown: number;
  /** Set when its outcome stayed unknown past Resend's window: closed, never repeated. */
  closed_unknown_at: number | null;
  created_at: number;
  updated_at: number;
}

export type NewResendRow = Pick<ResendRunRow, "product" | "position" | "send_key" | "recipient" | "payload"> & { corrected: boolean };

/**
 * The number the next `resend` run takes: one past the highest run recorded, complete or not (a
 * run still incomplete is completed first; see pendingResendRun). Runs from before the
 * resend_runs table are counted from their accepted sends in the history.
 */
export async function nextResendNumber(db: Sql, charge: string): Promise<number> {
  const notes = await db.query<{ note: string | null }>("SELECT note FROM attempts WHERE charge_id = ? AND outcome = 'resent'", [charge]);
  const done = notes.map((n) => Number(RUN.exec(n.note ?? "")?.[1] ?? 0));
  const stored = await db.query<{ run: number | null }>("SELECT max(run) AS run FROM resend_runs WHERE charge_id = ?", [charge]);
  return Math.max(0, Number(stored[0]?.run ?? 0), ...done) + 1;
}

/** The charge's last run if some product of it is still open (not accepted, not closed unknown), in product order; else null. */
export async function pendingResendRun(db: Sql, charge: string): Promise<ResendRunRow[] | null> {
  const rows = await db.query<ResendRunRow>(
    "SELECT * FROM resend_runs WHERE charge_id = ? AND run = (SELECT max(run) FROM resend_runs WHERE charge_id = ?) ORDER BY position",
    [charge, charge],
  );
  const typed = rows.map((r) => ({ ...r, run: Number(r.run), position: Number(r.position), created_at: Number(r.created_at), updated_at: Number(r.updated_at) }));
  return typed.some((r) => r.email_id === null && r.closed_unknown_at === null) ? typed : null;
}

/**
 * Stores a new run's payloads, all products in one transaction, before anything is sent. False if
 * that run number was taken meanwhile (another `resend` of the charge started it).
 */
export function storeResendRun(db: Sql, charge: string, run: number, rows: readonly NewResendRow[], now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    let inserted = 0;
    for (const r of rows) {
      inserted += await tx.exec(
        `INSERT INTO resend_runs (charge_id, run, product, position, send_key, recipient, corrected, payload, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (charge_id, run, product) DO NOTHING`,
        [charge, run, r.product, r.position, r.send_key, r.recipient, r.corrected ? 1 : 0, r.payload, now, now],
      );
    }
    if (inserted !== rows.length) throw new RunTaken();
    return true;
  }).catch((err) => {
    if (err instanceof RunTaken) return false;
    throw err;
  });
}

class RunTaken extends Error {}

/**
 * Resend accepted one product of a run: its email id is stored with the run and the send is
 * recorded as an attempt; `--to` becomes the address of later sends; a bounced charge is delivered
 * again, with this email as its proof.
 */
export async function recordResent(db: Sql, r: { charge: string; run: number; product: string; emailId: string; note: string; to: string | null; now: number }): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.exec("UPDATE resend_runs SET email_id = ?, updated_at = ? WHERE charge_id = ? AND run = ? AND product = ?", [r.emailId, r.now, r.charge, r.run, r.product]);
    await tx.exec("INSERT INTO attempts (charge_id, at, outcome, email_id, error, note) VALUES (?, ?, 'resent', ?, NULL, ?)", [r.charge, r.now, r.emailId, r.note]);
    if (r.to !== null) {
      // `lookup` finds the buyer by either address.
      await keepFormerAddress(tx, r.charge, r.to, r.now);
      await tx.exec("UPDATE charges SET email = ?, updated_at = ? WHERE id = ?", [r.to, r.now, r.charge]);
    }
    await tx.exec(
      `UPDATE charges SET state = 'delivered', email_id = ?, reason = NULL, alerted = 0, state_since = ?, updated_at = ?
       WHERE id = ? AND state = 'bounced'`,
      [r.emailId, r.now, r.now, r.charge],
    );
  });
}

/** A send of a run Resend did not accept: in the history, and with the run when its email may have gone. */
export async function recordResendFailed(db: Sql, r: { charge: string; run: number; product: string; error: string; outcomeUnknown: boolean; note: string; now: number }): Promise<void> {
  await db.transaction(async (tx) => {
    if (r.outcomeUnknown) {
      await tx.exec("UPDATE resend_runs SET outcome_unknown = 1, updated_at = ? WHERE charge_id = ? AND run = ? AND product = ?", [r.now, r.charge, r.run, r.product]);
    }
    await tx.exec("INSERT INTO attempts (charge_id, at, outcome, email_id, error, note) VALUES (?, ?, 'resend_failed', NULL, ?, ?)", [r.charge, r.now, r.error, r.note]);
  });
}

/**
 * A product of a run whose answer was lost and whose first try is too old to repeat under its key
 * (Resend forgets keys after 24 h): closed with its outcome unknown, in the history; not sent again.
 */
export async function closeUnknownResend(db: Sql, r: { charge: string; run: number; product: string; note: string; now: number }): Promise<void> {
  await db.transaction(async (tx) => {
    const closed = await tx.exec(
      "UPDATE resend_runs SET closed_unknown_at = ?, updated_at = ? WHERE charge_id = ? AND run = ? AND product = ? AND email_id IS NULL AND closed_unknown_at IS NULL",
      [r.now, r.now, r.charge, r.run, r.product],
    );
    if (closed === 0) return;
    await tx.exec("INSERT INTO attempts (charge_id, at, outcome, email_id, error, note) VALUES (?, ?, 'resend_failed', NULL, ?, ?)", [r.charge, r.now, RESEND_UNKNOWN_REASON, r.note]);
  });
}

export const RESEND_UNKNOWN_REASON = "outcome of send unknown: the first try is older than 23 h, too close to the end of Resend's 24 h idempotency window to repeat it safely; not sent again";
