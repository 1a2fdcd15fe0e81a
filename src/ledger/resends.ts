import { keepFormerAddress } from "./buyers";
import type { Sql } from "./sql";

// `paidup resend`: each run is one numbered re-send (`r<n>`), kept in the attempt history.

const RUN = /^r(\d+)\b/;

/** The number the next `resend` run takes: one past the highest accepted; a failed run's number is used again, so its retry renders the same email under the same key. */
export async function nextResendNumber(db: Sql, charge: string): Promise<number> {
  const notes = await db.query<{ note: string | null }>("SELECT note FROM attempts WHERE charge_id = ? AND outcome = 'resent'", [charge]);
  const done = notes.map((n) => Number(RUN.exec(n.note ?? "")?.[1] ?? 0));
  return Math.max(0, ...done) + 1;
}

/**
 * Resend accepted a re-send: recorded as an attempt; `--to` becomes the address of later sends;
 * a bounced charge is delivered again, with this email as its proof.
 */
export async function recordResent(db: Sql, r: { charge: string; emailId: string; note: string; to: string | null; now: number }): Promise<void> {
  await db.transaction(async (tx) => {
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

export async function recordResendFailed(db: Sql, charge: string, error: string, note: string, now: number): Promise<void> {
  await db.exec("INSERT INTO attempts (charge_id, at, outcome, email_id, error, note) VALUES (?, ?, 'resend_failed', NULL, ?, ?)", [charge, now, error, note]);
}
