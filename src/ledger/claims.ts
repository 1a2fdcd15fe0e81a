import { LedgerState, OUTCOME, STATE } from "../states";
import { appendAttempt, ChargeFacts, ChargeRow, getCharge } from "./charges";
import type { Sql } from "./sql";

/** A claim is a lease: if its holder dies, a later pass may take the charge over. */
export const LEASE_MS = 5 * 60_000;
/** Resend remembers an idempotency key for 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

export const UNKNOWN_OUTCOME_REASON = "outcome of send unknown";

export type ClaimResult =
  | { kind: "claimed"; payload: string; retake: boolean }
  | { kind: "not_claimable"; row: ChargeRow }
  | { kind: "outcome_unknown" };

/**
 * Atomically makes this process the only sender of a charge. The payload stored with the first
 * claim is the one every later send reuses, so Resend sees a byte-identical repeat.
 */
export function claim(db: Sql, facts: ChargeFacts, owner: string, payload: string, now: number): Promise<ClaimResult> {
  return db.transaction(async (tx): Promise<ClaimResult> => {
    const inserted = await tx.exec(
      `INSERT INTO charges (id, state, created, amount, currency, email, name, product,
         lease_owner, lease_until, first_sent_at, payload, state_since, updated_at)
       VALUES (@id, '${STATE.sending}', @created, @amount, @currency, @email, @name, @product,
         @owner, @until, @now, @payload, @now, @now)
       ON CONFLICT (id) DO NOTHING`,
      {
        id: facts.id, created: facts.created, amount: facts.amount, currency: facts.currency,
        email: facts.email ?? null, name: facts.name ?? null, product: facts.product ?? null,
        owner, until: now + LEASE_MS, now, payload,
      },
    );
    if (inserted === 1) return { kind: "claimed", payload, retake: false };

    const row = (await getCharge(tx, facts.id)) as ChargeRow;
    const leaseExpired = row.state === STATE.sending && (row.lease_until ?? 0) < now;
    const due = row.state === STATE.retrying && (row.next_attempt_at ?? 0) <= now;
    if (!(row.state === STATE.awaitingPayment || due || leaseExpired)) return { kind: "not_claimable", row };

    let unknown = row.outcome_unknown === 1;
    if (leaseExpired) {
      // The holder died between claim and commit: the email may or may not have gone.
      await appendAttempt(tx, row.id, now, OUTCOME.unknown, { error: "the process sending it stopped before recording the outcome (lease expired)" });
      unknown = true;
    }
    let stored = row.payload;
    let firstSentAt = row.first_sent_at;
    if (stored !== null && firstSentAt !== null && now - firstSentAt >= IDEMPOTENCY_WINDOW_MS) {
      if (unknown) {
        // Resend has forgotten the key: a re-send could be a second email. A human decides.
        await tx.exec(
          `UPDATE charges SET state = '${STATE.needsReview}', reason = ?, lease_owner = NULL, lease_until = NULL,
             outcome_unknown = 1, attempts = attempts + ?, state_since = ?, updated_at = ? WHERE id = ?`,
          [`${UNKNOWN_OUTCOME_REASON}: the first try is older than Resend's 24 h idempotency window`, leaseExpired ? 1 : 0, now, now, row.id],
        );
        return { kind: "outcome_unknown" };
      }
      // Every earlier try failed for certain, so a fresh send cannot be a duplicate.
      stored = null;
      firstSentAt = null;
    }
    await tx.exec(
      `UPDATE charges SET state = '${STATE.sending}', reason = NULL, lease_owner = @owner, lease_until = @until,
         payload = @payload, first_sent_at = @first, outcome_unknown = @unknown,
         attempts = attempts + @retook, failed_sends = failed_sends + @retook,
         email = coalesce(@email, email), name = coalesce(@name, name), product = coalesce(@product, product),
         blocked_on_file = NULL, state_since = @now, updated_at = @now
       WHERE id = @id`,
      {
        id: row.id, owner, until: now + LEASE_MS, payload: stored ?? payload, first: firstSentAt ?? now,
        unknown: unknown ? 1 : 0, retook: leaseExpired ? 1 : 0,
        email: facts.email ?? null, name: facts.name ?? null, product: facts.product ?? null, now,
      },
    );
    return { kind: "claimed", payload: stored ?? payload, retake: leaseExpired };
  });
}

/** Only a confirmed send gets here: Resend returned an email id. */
export function commitDelivered(db: Sql, id: string, emailId: string, now: number): Promise<void> {
  return db.transaction(async (tx) => {
    await tx.exec(
      `UPDATE charges SET state = '${STATE.delivered}', email_id = ?, reason = NULL, attempts = attempts + 1,
         next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, blocked_on_file = NULL, alerted = 0,
         state_since = ?, updated_at = ?
       WHERE id = ? AND state NOT IN ('${STATE.delivered}', '${STATE.resolved}')`,
      [emailId, now, now, id],
    );
    await appendAttempt(tx, id, now, OUTCOME.delivered, { emailId });
  });
}

export interface FailedSend {
  error: string;
  outcomeUnknown: boolean;
  next: { state: typeof STATE.retrying; at: number; reason: string } | { state: typeof STATE.needsReview; reason: string };
}

/**
 * Records a failed send; only the lease holder may move the row, so a late loser never undoes a
 * delivery. `alerted` is left as it is: a failed retry is the same stuck episode, and the owner
 * was told about it once (resetting it here mailed the owner on every failed retry).
 */
export function commitFailure(db: Sql, id: string, owner: string, failure: FailedSend, now: number): Promise<void> {
  return db.transaction(async (tx) => {
    await tx.exec(
      // outcome_unknown only ever goes from 0 to 1: once a send may have gone, it stays "may have".
      `UPDATE charges SET state = ?, reason = ?, next_attempt_at = ?, attempts = attempts + 1,
         failed_sends = failed_sends + 1, outcome_unknown = CASE WHEN ? = 1 THEN 1 ELSE outcome_unknown END,
         lease_owner = NULL, lease_until = NULL, state_since = ?, updated_at = ?
       WHERE id = ? AND state = '${STATE.sending}' AND lease_owner = ?`,
      [
        failure.next.state, failure.next.reason, failure.next.state === STATE.retrying ? failure.next.at : null,
        failure.outcomeUnknown ? 1 : 0, now, now, id, owner,
      ],
    );
    await appendAttempt(tx, id, now, failure.outcomeUnknown ? OUTCOME.unknown : OUTCOME.failed, { error: failure.error });
  });
}

/** Gives a claim back without a send (stop requested, or the charge changed): no attempt happened. */
export async function releaseClaim(db: Sql, id: string, owner: string, now: number): Promise<void> {
  await db.exec(
    `UPDATE charges SET state = '${STATE.retrying}', reason = 'claim released before sending', next_attempt_at = ?,
       lease_owner = NULL, lease_until = NULL, updated_at = ?
     WHERE id = ? AND state = '${STATE.sending}' AND lease_owner = ?`,
    [now, now, id, owner],
  );
}

/**
 * A dead claim on a charge that may no longer be sent (refunded, disputed): it leaves `sending`
 * without a send. Guarded by the lease, so a live holder is never overruled.
 */
export function abandonExpiredClaim(db: Sql, id: string, to: LedgerState, reason: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const moved = await tx.exec(
      `UPDATE charges SET state = ?, reason = ?, lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL,
         outcome_unknown = 1, alerted = 0, state_since = ?, updated_at = ?
       WHERE id = ? AND state = '${STATE.sending}' AND lease_until < ?`,
      [to, reason, now, now, id, now],
    );
    if (moved === 1) await appendAttempt(tx, id, now, OUTCOME.unknown, { error: `the process sending it stopped before recording the outcome; then: ${reason}` });
    return moved === 1;
  });
}
