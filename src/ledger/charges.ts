import { FINAL_STATES, LedgerState, OUTCOME, STATE } from "../states";
import type { Sql } from "./sql";

export interface ChargeRow {
  id: string;
  state: LedgerState;
  reason: string | null;
  created: number;
  amount: number;
  currency: string;
  email: string | null;
  name: string | null;
  product: string | null;
  attempts: number;
  failed_sends: number;
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  first_sent_at: number | null;
  outcome_unknown: number;
  payload: string | null;
  email_id: string | null;
  blocked_on_file: string | null;
  alerted: number;
  state_since: number;
  updated_at: number;
}

/** What the ledger keeps of a Stripe charge. */
export interface ChargeFacts {
  id: string;
  created: number;
  amount: number;
  currency: string;
  email?: string | null;
  name?: string | null;
  product?: string | null;
}

export interface StateChange {
  reason?: string | null;
  nextAttemptAt?: number | null;
  blockedOnFile?: string | null;
}

const finalList = FINAL_STATES.map((s) => `'${s}'`).join(", ");
const stuckList = [STATE.sending, STATE.retrying, STATE.needsReview].map((s) => `'${s}'`).join(", ");

export function getCharge(db: Sql, id: string): Promise<ChargeRow | undefined> {
  return db.one<ChargeRow>("SELECT * FROM charges WHERE id = ?", [id]);
}

/** Only the state, for the hot path of a pass walking thousands of delivered charges. */
export async function getState(db: Sql, id: string): Promise<LedgerState | undefined> {
  const row = await db.one<{ state: LedgerState }>("SELECT state FROM charges WHERE id = ?", [id]);
  return row?.state;
}

/** Rows a pass may have to act on, and the ones `status` reports. */
export function openCharges(db: Sql): Promise<ChargeRow[]> {
  return db.query<ChargeRow>(`SELECT * FROM charges WHERE state NOT IN (${finalList}) ORDER BY created`);
}

/** Skipped rows with this exact reason (a reason a later look may overturn, such as an open dispute). */
export function skippedWith(db: Sql, reason: string): Promise<ChargeRow[]> {
  return db.query<ChargeRow>(`SELECT * FROM charges WHERE state = '${STATE.skipped}' AND reason = ? ORDER BY created`, [reason]);
}

/** Records a charge in a state other than `sending`; an existing row moves only from `from`. */
export function recordState(db: Sql, facts: ChargeFacts, to: LedgerState, change: StateChange, from: readonly LedgerState[], now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const inserted = await tx.exec(
      `INSERT INTO charges (id, state, reason, created, amount, currency, email, name, product,
         next_attempt_at, blocked_on_file, state_since, updated_at)
       VALUES (@id, @to, @reason, @created, @amount, @currency, @email, @name, @product,
         @next, @blocked, @now, @now)
       ON CONFLICT (id) DO NOTHING`,
      { ...factParams(facts), to, ...changeParams(change), now },
    );
    if (inserted === 1) return true;
    if (from.length === 0) return false;
    const placeholders = from.map(() => "?").join(", ");
    const moved = await tx.exec(
      `UPDATE charges SET state = ?, reason = ?, next_attempt_at = ?, blocked_on_file = ?,
         email = coalesce(?, email), name = coalesce(?, name), product = coalesce(?, product),
         lease_owner = NULL, lease_until = NULL,
         -- One alert per stuck episode: moving between stuck states keeps the episode's alert.
         alerted = CASE WHEN ? IN (${stuckList}) THEN alerted ELSE 0 END,
         state_since = CASE WHEN state = ? THEN state_since ELSE ? END, updated_at = ?
       WHERE id = ? AND state IN (${placeholders})`,
      [
        to, change.reason ?? null, change.nextAttemptAt ?? null, change.blockedOnFile ?? null,
        facts.email ?? null, facts.name ?? null, facts.product ?? null,
        to, to, now, now, facts.id, ...from,
      ],
    );
    return moved === 1;
  });
}

function factParams(f: ChargeFacts) {
  return {
    id: f.id, created: f.created, amount: f.amount, currency: f.currency,
    email: f.email ?? null, name: f.name ?? null, product: f.product ?? null,
  };
}

function changeParams(c: StateChange) {
  return { reason: c.reason ?? null, next: c.nextAttemptAt ?? null, blocked: c.blockedOnFile ?? null };
}

export async function appendAttempt(
  db: Sql, chargeId: string, at: number, outcome: string,
  extra: { product?: string | null; emailId?: string | null; error?: string | null; note?: string | null } = {},
): Promise<void> {
  await db.exec("INSERT INTO attempts (charge_id, product, at, outcome, email_id, error, note) VALUES (?, ?, ?, ?, ?, ?, ?)", [
    chargeId, extra.product ?? null, at, outcome, extra.emailId ?? null, extra.error ?? null, extra.note ?? null,
  ]);
}

export interface AttemptRow {
  /** The product the send was for; null for the charge as a whole (and for v1 attempts). */
  product: string | null;
  at: number;
  outcome: string;
  email_id: string | null;
  error: string | null;
  note: string | null;
}

export function attemptsOf(db: Sql, chargeId: string): Promise<AttemptRow[]> {
  return db.query<AttemptRow>("SELECT product, at, outcome, email_id, error, note FROM attempts WHERE charge_id = ? ORDER BY id", [chargeId]);
}

/**
 * Operator's `retry`: back in line for the next pass, with a fresh budget of attempts and a new
 * stuck episode (stuck again, it is alerted again). An outcome-unknown send keeps its payload, so
 * within Resend's 24 h window the repeat is recognised; the flag itself is cleared: the operator
 * has chosen to send again, so past that window the claim sends instead of returning the charge
 * straight to review (the alert that names `retry` says it may be a second email).
 */
export function requeue(db: Sql, id: string, note: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const moved = await tx.exec(
      `UPDATE charges SET state = '${STATE.retrying}', reason = 'retry requested by the operator',
         next_attempt_at = ?, failed_sends = 0, blocked_on_file = NULL, alerted = 0, outcome_unknown = 0,
         -- A payload no send could have used is dropped, so the retry renders afresh.
         payload = CASE WHEN outcome_unknown = 1 THEN payload ELSE NULL END,
         first_sent_at = CASE WHEN outcome_unknown = 1 THEN first_sent_at ELSE NULL END,
         state_since = ?, updated_at = ?
       WHERE id = ? AND state IN ('${STATE.needsReview}', '${STATE.retrying}')`,
      [now, now, now, id],
    );
    if (moved === 1) {
      // Each product not yet delivered gets the same fresh start; delivered ones are never re-sent.
      await tx.exec(
        `UPDATE deliveries SET state = '${STATE.retrying}', reason = 'retry requested by the operator',
           next_attempt_at = ?, failed_sends = 0, blocked_on_file = NULL, outcome_unknown = 0,
           payload = CASE WHEN outcome_unknown = 1 THEN payload ELSE NULL END,
           first_sent_at = CASE WHEN outcome_unknown = 1 THEN first_sent_at ELSE NULL END,
           state_since = ?, updated_at = ?
         WHERE charge_id = ? AND state IN ('${STATE.needsReview}', '${STATE.retrying}')`,
        [now, now, now, id],
      );
      await appendAttempt(tx, id, now, OUTCOME.retryRequested, { note });
    }
    return moved === 1;
  });
}

/**
 * Operator's `retry` on a charge no pass has recorded (Stripe listed it late): a row due now, so
 * the next pass fetches it and sends it. False if a row appeared meanwhile.
 */
export function takeInLine(db: Sql, facts: ChargeFacts, note: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const inserted = await recordState(tx, facts, STATE.retrying, { reason: "taken in line by the operator (no pass had recorded it)", nextAttemptAt: now }, [], now);
    if (inserted) await appendAttempt(tx, facts.id, now, OUTCOME.retryRequested, { note });
    return inserted;
  });
}

/**
 * Operator's `resolve`: delivered by hand; no pass will send it. `facts` records a charge no pass
 * has seen yet. A claim still live is never overruled: its send may be the one that delivers.
 */
export function resolveByHand(db: Sql, id: string, note: string, now: number, facts?: ChargeFacts): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (facts && (await recordState(tx, facts, STATE.resolved, { reason: note }, [], now))) {
      await appendAttempt(tx, id, now, OUTCOME.resolved, { note });
      return true;
    }
    const moved = await tx.exec(
      `UPDATE charges SET state = '${STATE.resolved}', reason = ?, next_attempt_at = NULL,
         lease_owner = NULL, lease_until = NULL, alerted = 0, state_since = ?, updated_at = ?
       WHERE id = ? AND state NOT IN ('${STATE.delivered}', '${STATE.resolved}')
         AND NOT (state = '${STATE.sending}' AND lease_until >= ?)
         -- Any one product's live claim refuses it: the charge row shows only its furthest
         -- product (needs_review beats sending), and that send may be the one that delivers.
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.charge_id = charges.id
           AND d.state = '${STATE.sending}' AND d.lease_until >= ?)`,
      [note, now, now, id, now, now],
    );
    if (moved === 1) {
      await tx.exec(
        `UPDATE deliveries SET state = '${STATE.resolved}', reason = ?, next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL,
           state_since = ?, updated_at = ?
         WHERE charge_id = ? AND state NOT IN ('${STATE.delivered}', '${STATE.resolved}')`,
        [note, now, now, id],
      );
      await appendAttempt(tx, id, now, OUTCOME.resolved, { note });
    }
    return moved === 1;
  });
}

/** Stuck rows that no alert has named yet. */
export function unalertedStuck(db: Sql, sendingBefore: number): Promise<ChargeRow[]> {
  return db.query<ChargeRow>(
    // The NOT IN term repeats the charges_open index's WHERE, so SQLite walks that index instead
    // of the whole history on every pass (31 ms at 100k rows, 0.1 ms with it: bench/RESULTS.md).
    `SELECT * FROM charges WHERE state NOT IN (${finalList}) AND alerted = 0 AND (state IN ('${STATE.retrying}', '${STATE.needsReview}', '${STATE.bounced}')
       OR (state = '${STATE.sending}' AND state_since < ?)) ORDER BY created`,
    [sendingBefore],
  );
}

export function markAlerted(db: Sql, ids: readonly string[]): Promise<void> {
  return db.transaction(async (tx) => {
    for (const id of ids) await tx.exec("UPDATE charges SET alerted = 1 WHERE id = ?", [id]);
  });
}
