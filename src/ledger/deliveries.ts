import { LedgerState, OUTCOME, STATE } from "../states";
import { acceptLinks } from "./links";
import { appendAttempt, ChargeFacts, ChargeRow, getCharge } from "./charges";
import { startLicenseExpiry } from "./licenses";
import type { Sql } from "./sql";

// One delivery per (charge, product): a purchase of three catalog products is three emails, each
// with its own claim, lease, payload, idempotency key, email id and attempts. The charge row's
// state is derived from its deliveries (see syncCharge), so `status`, alerts and the stuck
// query keep reading one row per charge.

/** A claim is a lease: if its holder dies, a later pass may take the delivery over. */
export const LEASE_MS = 5 * 60_000;
/** Resend remembers an idempotency key for 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;
/**
 * How long after the first try paidup still repeats a send whose outcome is unknown: an hour
 * short of Resend's 24, so that 429s waited out inside one claim (and clocks a little apart)
 * never carry a repeat past the moment Resend forgets the key.
 */
export const SAFE_REPLAY_MS = 23 * 3_600_000;

export const UNKNOWN_OUTCOME_REASON = "outcome of send unknown";

export interface DeliveryRow {
  charge_id: string;
  product: string;
  /** File order of the product among the charge's products; 0 keeps the key `paidup-<charge>`. */
  position: number;
  send_key: string;
  state: LedgerState;
  reason: string | null;
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
  state_since: number;
  updated_at: number;
}

/** One product of a charge as the pass prepared it: a payload to send, or why it cannot be built. */
export interface PlannedDelivery {
  product: string;
  payload: string | null;
  /** When `payload` is null: the reason, and the product file it waits for, if any. */
  reason?: string;
  blockedOnFile?: string | null;
}

export interface ClaimedDelivery {
  product: string;
  sendKey: string;
  payload: string;
  retake: boolean;
  /**
   * Set when an earlier try may have gone out: no request of this claim may start after it (the
   * first try + SAFE_REPLAY_MS), or Resend might no longer recognise the repeat (ms).
   */
  replayDeadline: number | null;
}

/** `not_claimable`: nothing of the charge was due (or another process holds it); `row` says where it stands. */
export type ClaimResult =
  | { kind: "claimed"; claimed: ClaimedDelivery[] }
  | { kind: "not_claimable"; row: ChargeRow };

const STUCK: readonly LedgerState[] = [STATE.sending, STATE.retrying, STATE.needsReview];
/** How far a delivery is from done; the charge takes the state of its furthest one. */
const DISTANCE: Partial<Record<LedgerState, number>> = {
  [STATE.needsReview]: 4,
  [STATE.retrying]: 3,
  [STATE.sending]: 2,
  [STATE.resolved]: 0,
  [STATE.delivered]: 0,
};
/**
 * Charge states a pass decides on the charge as a whole; deliveries never override them. A
 * bounce is one: its delivery stays `delivered` (Resend took it), the charge waits for `resend`.
 */
const chargeLevelList = [STATE.skipped, STATE.resolved, STATE.awaitingPayment, STATE.bounced].map((s) => `'${s}'`).join(", ");

export function deliveriesOf(db: Sql, chargeId: string): Promise<DeliveryRow[]> {
  return db.query<DeliveryRow>("SELECT * FROM deliveries WHERE charge_id = ? ORDER BY position", [chargeId]);
}

/** The key each send of this delivery carries: the first product keeps the charge's own key. */
export function sendKeyFor(chargeId: string, productKey: string, position: number): string {
  return position === 0 ? `paidup-${chargeId}` : `paidup-${chargeId}-${productKey}`;
}

/**
 * Takes the charge row's write lock first in every transaction that moves one of its deliveries:
 * on PostgreSQL two hosts committing two products of one charge then write the derived state
 * one after the other, each from the other's committed delivery (SQLite's BEGIN IMMEDIATE
 * already serialises them).
 */
async function lockCharge(tx: Sql, chargeId: string, now: number): Promise<void> {
  if (tx.dialect === "sqlite") return; // BEGIN IMMEDIATE holds the whole file's write lock already
  await tx.exec("UPDATE charges SET updated_at = ? WHERE id = ?", [now, chargeId]);
}

/**
 * Atomically makes this process the only sender of every due delivery of a charge: new products
 * (all of a charge's products get their row in this one transaction, so a crash after the first
 * send can never make the charge look complete), due retries, expired leases and, when
 * `fileReady` says so, deliveries whose product file is back. The payload stored with a
 * delivery's first claim is the one every later send reuses, so Resend sees a byte-identical
 * repeat under the same key.
 */
export function claimDeliveries(
  db: Sql, facts: ChargeFacts, planned: readonly PlannedDelivery[], owner: string, now: number,
  fileReady: (file: string) => boolean = () => false,
): Promise<ClaimResult> {
  return db.transaction(async (tx): Promise<ClaimResult> => {
    // A charge seen for the first time (the common case) is written once, already in the state
    // its new deliveries give it, instead of inserted and then re-derived.
    const d = derive(freshDeliveries(planned, owner, now));
    const inserted = await tx.exec(
      `INSERT INTO charges (id, state, reason, created, amount, currency, email, name, product, lease_owner, lease_until,
         first_sent_at, blocked_on_file, state_since, updated_at)
       VALUES (@id, @state, @reason, @created, @amount, @currency, @email, @name, @product, @owner, @until,
         @first, @blocked, @now, @now)
       ON CONFLICT (id) DO NOTHING`,
      {
        id: facts.id, created: facts.created, amount: facts.amount, currency: facts.currency,
        email: facts.email ?? null, name: facts.name ?? null, now,
        state: d.state, reason: d.reason, product: d.product, owner: d.owner, until: d.until, first: d.first, blocked: d.blocked,
      },
    );
    const claimed: ClaimedDelivery[] = [];
    // A charge seen for the first time (the common case) has no deliveries to look at.
    const existing = inserted === 1 ? [] : await openExisting(tx, facts, now);
    if (existing === null) return { kind: "not_claimable", row: (await getCharge(tx, facts.id)) as ChargeRow };
    for (const d of existing) {
      const one = await claimOne(tx, d, planned.find((p) => p.product === d.product), owner, now, fileReady);
      if (one) claimed.push(one);
    }
    const known = new Set(existing.map((d) => d.product));
    let position = existing.length;
    for (const plan of planned) {
      if (known.has(plan.product)) continue;
      const one = await insertDelivery(tx, facts.id, plan, position++, owner, now);
      if (one) claimed.push(one);
    }
    // The charge was judged eligible just now: whatever it was (awaiting payment, or in review
    // for a reason of its own), from here its deliveries say where it stands.
    if (inserted !== 1) await syncCharge(tx, facts.id, now, true);
    if (claimed.length === 0) return { kind: "not_claimable", row: (await getCharge(tx, facts.id)) as ChargeRow };
    return { kind: "claimed", claimed };
  });
}

/** The deliveries of a charge already in the ledger, or null if it is not open to a claim. */
async function openExisting(tx: Sql, facts: ChargeFacts, now: number): Promise<DeliveryRow[] | null> {
  await lockCharge(tx, facts.id, now);
  const charge = (await getCharge(tx, facts.id)) as ChargeRow;
  const open = charge.state === STATE.awaitingPayment || charge.state === STATE.sending || charge.state === STATE.retrying || charge.state === STATE.needsReview;
  if (!open) return null;
  await tx.exec("UPDATE charges SET email = coalesce(?, email), name = coalesce(?, name) WHERE id = ?", [facts.email ?? null, facts.name ?? null, facts.id]);
  return deliveriesOf(tx, facts.id);
}

/** A product new to the ledger: claimed at once if it has a payload, else waiting in review. */
async function insertDelivery(tx: Sql, chargeId: string, plan: PlannedDelivery, position: number, owner: string, now: number): Promise<ClaimedDelivery | null> {
  const ready = plan.payload !== null;
  const sendKey = sendKeyFor(chargeId, plan.product, position);
  await tx.exec(
    `INSERT INTO deliveries (charge_id, product, position, send_key, state, reason, lease_owner, lease_until, first_sent_at,
       payload, blocked_on_file, state_since, updated_at)
     VALUES (@charge, @product, @position, @key, @state, @reason, @owner, @until, @first, @payload, @blocked, @now, @now)`,
    {
      charge: chargeId, product: plan.product, position, key: sendKey,
      state: ready ? STATE.sending : STATE.needsReview, reason: ready ? null : (plan.reason ?? "no payload"),
      owner: ready ? owner : null, until: ready ? now + LEASE_MS : null, first: ready ? now : null,
      payload: plan.payload, blocked: ready ? null : (plan.blockedOnFile ?? null), now,
    },
  );
  return plan.payload === null ? null : { product: plan.product, sendKey, payload: plan.payload, retake: false, replayDeadline: null };
}

async function claimOne(
  tx: Sql, d: DeliveryRow, plan: PlannedDelivery | undefined, owner: string, now: number, fileReady: (file: string) => boolean,
): Promise<ClaimedDelivery | null> {
  const leaseExpired = d.state === STATE.sending && (d.lease_until ?? 0) < now;
  const due = d.state === STATE.retrying && (d.next_attempt_at ?? 0) <= now;
  const fileBack = d.state === STATE.needsReview && d.blocked_on_file !== null && fileReady(d.blocked_on_file);
  if (!(due || leaseExpired || fileBack)) return null;

  let unknown = d.outcome_unknown === 1;
  if (leaseExpired) {
    // The holder died between claim and commit: the email may or may not have gone.
    await appendAttempt(tx, d.charge_id, now, OUTCOME.unknown, { product: d.product, error: "the process sending it stopped before recording the outcome (lease expired)" });
    unknown = true;
  }
  let stored = d.payload;
  let firstSentAt = d.first_sent_at;
  if (stored !== null && firstSentAt !== null && now - firstSentAt >= SAFE_REPLAY_MS) {
    if (unknown) {
      // Resend has forgotten the key: a re-send could be a second email. A human decides.
      await tx.exec(
        `UPDATE deliveries SET state = '${STATE.needsReview}', reason = ?, lease_owner = NULL, lease_until = NULL,
           outcome_unknown = 1, attempts = attempts + ?, state_since = ?, updated_at = ?
         WHERE charge_id = ? AND product = ?`,
        [`${UNKNOWN_OUTCOME_REASON}: the first try is older than 23 h, too close to the end of Resend's 24 h idempotency window to repeat it safely`, leaseExpired ? 1 : 0, now, now, d.charge_id, d.product],
      );
      return null;
    }
    // Every earlier try failed for certain, so a fresh send cannot be a duplicate.
    stored = null;
    firstSentAt = null;
  }
  const payload = stored ?? plan?.payload ?? null;
  if (payload === null) {
    // Nothing to send: its file is still missing (or it left the catalog). It waits in review.
    if (plan?.reason) {
      await tx.exec(
        `UPDATE deliveries SET state = '${STATE.needsReview}', reason = ?, blocked_on_file = ?, lease_owner = NULL, lease_until = NULL,
           state_since = CASE WHEN state = '${STATE.needsReview}' THEN state_since ELSE ? END, updated_at = ?
         WHERE charge_id = ? AND product = ?`,
        [plan.reason, plan.blockedOnFile ?? null, now, now, d.charge_id, d.product],
      );
    }
    return null;
  }
  await tx.exec(
    `UPDATE deliveries SET state = '${STATE.sending}', reason = NULL, lease_owner = @owner, lease_until = @until,
       payload = @payload, first_sent_at = @first, outcome_unknown = @unknown,
       attempts = attempts + @retook, failed_sends = failed_sends + @retook,
       blocked_on_file = NULL, state_since = @now, updated_at = @now
     WHERE charge_id = @charge AND product = @product`,
    {
      charge: d.charge_id, product: d.product, owner, until: now + LEASE_MS, payload, first: firstSentAt ?? now,
      unknown: unknown ? 1 : 0, retook: leaseExpired ? 1 : 0, now,
    },
  );
  const replayDeadline = unknown && firstSentAt !== null ? firstSentAt + SAFE_REPLAY_MS : null;
  return { product: d.product, sendKey: d.send_key, payload, retake: leaseExpired, replayDeadline };
}

/**
 * Right before a send: the lease runs from here, so the sends before it (and their 429 waits) do
 * not eat it. False if the claim was lost (it expired and another process took it over).
 */
export async function renewClaim(db: Sql, chargeId: string, product: string, owner: string, now: number): Promise<boolean> {
  const changed = await db.exec(
    `UPDATE deliveries SET lease_until = ?, updated_at = ?
     WHERE charge_id = ? AND product = ? AND state = '${STATE.sending}' AND lease_owner = ?`,
    [now + LEASE_MS, now, chargeId, product, owner],
  );
  return changed === 1;
}

/** Only a confirmed send gets here: Resend returned an email id for this product. */
export function commitDelivered(db: Sql, chargeId: string, product: string, emailId: string, now: number): Promise<void> {
  return db.transaction(async (tx) => {
    await lockCharge(tx, chargeId, now);
    await tx.exec(
      `UPDATE deliveries SET state = '${STATE.delivered}', email_id = ?, reason = NULL, attempts = attempts + 1,
         next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, blocked_on_file = NULL,
         state_since = ?, updated_at = ?
       WHERE charge_id = ? AND product = ? AND state NOT IN ('${STATE.delivered}', '${STATE.resolved}')`,
      [emailId, now, now, chargeId, product],
    );
    // Resend accepted it: the links this email carries start their expiry now, in this same write.
    await acceptLinks(tx, chargeId, product, "send", now);
    await appendAttempt(tx, chargeId, now, OUTCOME.delivered, { product, emailId });
    // A license key's `expiresAfter` runs from Resend's first acceptance of the email carrying it.
    await startLicenseExpiry(tx, chargeId, product, now);
    await syncCharge(tx, chargeId, now);
  });
}

export interface FailedSend {
  error: string;
  outcomeUnknown: boolean;
  /**
   * Resend refused before trying (its daily or monthly quota): the refusal is logged, but it
   * counts toward neither `attempts` nor the failed sends that `maxAttempts` limits.
   */
  notAnAttempt?: boolean;
  next: { state: typeof STATE.retrying; at: number; reason: string } | { state: typeof STATE.needsReview; reason: string };
}

/**
 * Records a failed send; only the lease holder may move the delivery, so a late loser never
 * undoes one. The charge's `alerted` is left as it is: a failed retry is the same stuck episode.
 */
export function commitFailure(db: Sql, chargeId: string, product: string, owner: string, failure: FailedSend, now: number): Promise<void> {
  return db.transaction(async (tx) => {
    await lockCharge(tx, chargeId, now);
    await tx.exec(
      `UPDATE deliveries SET state = ?, reason = ?, next_attempt_at = ?, attempts = attempts + ?,
         failed_sends = failed_sends + ?, outcome_unknown = CASE WHEN ? = 1 THEN 1 ELSE outcome_unknown END,
         lease_owner = NULL, lease_until = NULL, state_since = ?, updated_at = ?
       WHERE charge_id = ? AND product = ? AND state = '${STATE.sending}' AND lease_owner = ?`,
      [
        failure.next.state, failure.next.reason, failure.next.state === STATE.retrying ? failure.next.at : null,
        failure.notAnAttempt ? 0 : 1, failure.notAnAttempt ? 0 : 1,
        failure.outcomeUnknown ? 1 : 0, now, now, chargeId, product, owner,
      ],
    );
    await appendAttempt(tx, chargeId, now, failure.outcomeUnknown ? OUTCOME.unknown : OUTCOME.failed, { product, error: failure.error });
    await syncCharge(tx, chargeId, now);
  });
}

/** Gives a claim back without a send (stop requested, or the claim is no longer wanted): no attempt happened. */
export function releaseClaim(db: Sql, chargeId: string, product: string, owner: string, now: number): Promise<void> {
  return db.transaction(async (tx) => {
    await lockCharge(tx, chargeId, now);
    await tx.exec(
      `UPDATE deliveries SET state = '${STATE.retrying}', reason = 'claim released before sending', next_attempt_at = ?,
         lease_owner = NULL, lease_until = NULL, updated_at = ?
       WHERE charge_id = ? AND product = ? AND state = '${STATE.sending}' AND lease_owner = ?`,
      [now, now, chargeId, product, owner],
    );
    await syncCharge(tx, chargeId, now);
  });
}

/**
 * Dead claims on a charge that may no longer be sent (refunded, disputed): the charge leaves
 * `sending` without a send. Refused while any of its claims is live, so a live holder is never
 * overruled.
 */
export function abandonExpiredClaims(db: Sql, chargeId: string, to: LedgerState, reason: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockCharge(tx, chargeId, now);
    const sending = (await deliveriesOf(tx, chargeId)).filter((d) => d.state === STATE.sending);
    if (sending.some((d) => (d.lease_until ?? 0) >= now)) return false;
    for (const d of sending) {
      await tx.exec(
        `UPDATE deliveries SET state = ?, reason = ?, lease_owner = NULL, lease_until = NULL, outcome_unknown = 1, state_since = ?, updated_at = ?
         WHERE charge_id = ? AND product = ?`,
        [to, reason, now, now, chargeId, d.product],
      );
      await appendAttempt(tx, chargeId, now, OUTCOME.unknown, { product: d.product, error: `the process sending it stopped before recording the outcome; then: ${reason}` });
    }
    const moved = await tx.exec(
      `UPDATE charges SET state = ?, reason = ?, lease_owner = NULL, lease_until = NULL, next_attempt_at = NULL,
         alerted = 0, state_since = ?, updated_at = ?
       WHERE id = ? AND state = '${STATE.sending}'`,
      [to, reason, now, now, chargeId],
    );
    return moved === 1;
  });
}

/**
 * Writes the charge's state as its deliveries have it: `delivered` once every product is, else
 * the state of the one furthest from done (its reason prefixed with the product when there are
 * several). Called inside every transaction that moves a delivery, after lockCharge.
 */
export async function syncCharge(tx: Sql, chargeId: string, now: number, overrideChargeLevel = false): Promise<void> {
  const rows = await deliveriesOf(tx, chargeId);
  if (rows.length === 0) return;
  const d = derive(rows);
  await tx.exec(
    `UPDATE charges SET state = @state, reason = @reason, product = @product, attempts = @attempts,
       failed_sends = @failed, next_attempt_at = @next, lease_owner = @owner, lease_until = @until,
       first_sent_at = @first, outcome_unknown = @unknown, email_id = @emailId, blocked_on_file = @blocked,
       -- One alert per stuck episode: the episode ends only when the charge stops being stuck.
       alerted = CASE WHEN @stuck = 1 THEN alerted ELSE 0 END,
       state_since = CASE WHEN state = @state THEN state_since ELSE @now END, updated_at = @now
     WHERE id = @id AND (@override = 1 OR state NOT IN (${chargeLevelList}))`,
    { id: chargeId, ...d, stuck: STUCK.includes(d.state) ? 1 : 0, override: overrideChargeLevel ? 1 : 0, now },
  );
}

type DeliveryFields = Pick<DeliveryRow,
  "product" | "state" | "reason" | "attempts" | "failed_sends" | "next_attempt_at" | "lease_owner" | "lease_until" | "first_sent_at" | "outcome_unknown" | "email_id" | "blocked_on_file">;

/** The charge row's columns as its deliveries (in position order) have them. */
function derive(rows: readonly DeliveryFields[]) {
  const furthest = rows.reduce((a, b) => ((DISTANCE[b.state] ?? 0) > (DISTANCE[a.state] ?? 0) ? b : a));
  const done = (DISTANCE[furthest.state] ?? 0) === 0;
  const state: LedgerState = done ? STATE.delivered : furthest.state;
  const retrying = rows.filter((d) => d.state === STATE.retrying).map((d) => d.next_attempt_at ?? 0);
  const sending = rows.filter((d) => d.state === STATE.sending).map((d) => d.lease_until ?? 0);
  return {
    state,
    reason: done || furthest.reason === null ? null : rows.length > 1 ? `${furthest.product}: ${furthest.reason}` : furthest.reason,
    product: rows.map((d) => d.product).join(","),
    attempts: rows.reduce((n, d) => n + d.attempts, 0),
    failed: furthest.failed_sends,
    next: retrying.length > 0 ? Math.min(...retrying) : null,
    owner: sending.length > 0 ? furthest.lease_owner : null,
    until: sending.length > 0 ? Math.min(...sending) : null,
    first: furthest.first_sent_at,
    unknown: furthest.outcome_unknown,
    emailId: (rows[0] as DeliveryFields).email_id,
    blocked: rows.find((d) => d.state === STATE.needsReview && d.blocked_on_file !== null)?.blocked_on_file ?? null,
  };
}

/** The deliveries a charge new to the ledger starts with: each product claimed, or waiting for its file. */
function freshDeliveries(planned: readonly PlannedDelivery[], owner: string, now: number): DeliveryFields[] {
  return planned.map((p) => {
    const ready = p.payload !== null;
    return {
      product: p.product, state: ready ? STATE.sending : STATE.needsReview, reason: ready ? null : (p.reason ?? "no payload"),
      attempts: 0, failed_sends: 0, next_attempt_at: null, lease_owner: ready ? owner : null, lease_until: ready ? now + LEASE_MS : null,
      first_sent_at: ready ? now : null, outcome_unknown: 0, email_id: null, blocked_on_file: ready ? null : (p.blockedOnFile ?? null),
    };
  });
}
