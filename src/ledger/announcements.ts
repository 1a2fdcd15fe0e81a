import type { Sql } from "./sql";

// Announcements to past buyers (`paidup announce`): the audience taken once and stored, each
// recipient claimed into a recorded batch before its send (members and exact body, so a replay
// is byte-identical under the batch's Idempotency-Key) and marked sent only on Resend's ids;
// and the addresses that unsubscribed. Delivery of purchases never reads these tables.

export const RECIPIENT = Object.freeze({
  pending: "pending",
  sending: "sending",
  sent: "sent",
  /** An earlier send may have gone and Resend's idempotency window has passed: never sent again. */
  unknown: "unknown",
  /** Unsubscribed after the audience was taken: skipped. */
  unsubscribed: "unsubscribed",
} as const);
export type RecipientState = (typeof RECIPIENT)[keyof typeof RECIPIENT];

export const BATCH = Object.freeze({ sending: "sending", sent: "sent", failed: "failed", split: "split", unknown: "unknown" } as const);
export type BatchState = (typeof BATCH)[keyof typeof BATCH];

export interface AnnouncementRow {
  id: string;
  product: string;
  subject: string;
  text_body: string;
  html_body: string | null;
  excluded_refunded: number;
  excluded_unsubscribed: number;
  excluded_bounced: number;
  batches: number;
  created_at: number;
  updated_at: number;
}

export interface NewAnnouncement {
  id: string;
  product: string;
  subject: string;
  text: string;
  html: string | null;
  excluded: { refunded: number; unsubscribed: number; bounced: number };
  recipients: readonly NewRecipient[];
}

export interface NewRecipient {
  email: string;
  name: string | null;
  charge: string;
}

export interface RecipientRow {
  announcement_id: string;
  position: number;
  email: string;
  name: string | null;
  charge_id: string;
  state: RecipientState;
  batch_key: string | null;
  email_id: string | null;
  error: string | null;
  sent_at: number | null;
}

export interface BatchRow {
  key: string;
  announcement_id: string;
  size: number;
  body: string;
  state: BatchState;
  lease_owner: string | null;
  lease_until: number | null;
  first_sent_at: number | null;
  outcome_unknown: number;
  attempts: number;
  error: string | null;
}

/** A delivered (or resolved) purchase of the product: one candidate of the audience. */
export interface AudienceCandidate {
  charge_id: string;
  email: string;
  name: string | null;
  created: number;
  /** Refunded in full, or disputed after delivery and not (yet) won. */
  revoked: number;
}

export interface BuyerAnnouncement {
  announcement: string;
  product: string;
  at: number;
  emailId: string;
}

const num = (v: unknown) => Number(v);
const INSERT_CHUNK = 200; // rows per INSERT: 7 parameters each, far under either backend's limit

function asRecipient(r: RecipientRow): RecipientRow {
  return { ...r, position: num(r.position), sent_at: r.sent_at === null ? null : num(r.sent_at) };
}

function asBatch(r: BatchRow): BatchRow {
  return {
    ...r, size: num(r.size), attempts: num(r.attempts), outcome_unknown: num(r.outcome_unknown),
    lease_until: r.lease_until === null ? null : num(r.lease_until), first_sent_at: r.first_sent_at === null ? null : num(r.first_sent_at),
  };
}

export async function getAnnouncement(db: Sql, id: string): Promise<AnnouncementRow | undefined> {
  const r = await db.one<AnnouncementRow>("SELECT * FROM announcements WHERE id = ?", [id]);
  return r && { ...r, excluded_refunded: num(r.excluded_refunded), excluded_unsubscribed: num(r.excluded_unsubscribed), excluded_bounced: num(r.excluded_bounced), batches: num(r.batches), created_at: num(r.created_at), updated_at: num(r.updated_at) };
}

/** Every purchase of `product` whose delivery is delivered or resolved, with the address it now goes to. */
export function audienceCandidates(db: Sql, product: string): Promise<AudienceCandidate[]> {
  return db.query<AudienceCandidate>(
    `SELECT c.id AS charge_id, lower(c.email) AS email, c.name, c.created,
       CASE WHEN EXISTS (SELECT 1 FROM after_delivery a WHERE a.charge_id = c.id AND a.event = 'refunded')
              OR (EXISTS (SELECT 1 FROM after_delivery a WHERE a.charge_id = c.id AND a.event = 'disputed')
                  AND NOT EXISTS (SELECT 1 FROM disputes_won w WHERE w.charge_id = c.id)) THEN 1 ELSE 0 END AS revoked
     FROM deliveries d JOIN charges c ON c.id = d.charge_id
     WHERE d.product = ? AND d.state IN ('delivered', 'resolved') AND c.email IS NOT NULL
     ORDER BY c.created, c.id`,
    [product],
  ).then((rows) => rows.map((r) => ({ ...r, created: num(r.created), revoked: num(r.revoked) })));
}

/** Each address's newest purchase that got an email, and whether that email bounced. */
export async function latestPurchaseBounced(db: Sql): Promise<Map<string, boolean>> {
  const rows = await db.query<{ email: string; state: string }>(
    "SELECT lower(email) AS email, state FROM charges WHERE email IS NOT NULL AND state IN ('delivered', 'resolved', 'bounced') ORDER BY created, id",
  );
  const latest = new Map<string, boolean>();
  for (const r of rows) latest.set(r.email, r.state === "bounced");
  return latest;
}

/**
 * Stores a new announcement with its audience, in one transaction. False (and nothing written)
 * when it exists already: a second run, or another run that got there first, resumes it.
 */
export async function createAnnouncement(db: Sql, a: NewAnnouncement, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const inserted = await tx.exec(
      `INSERT INTO announcements (id, product, subject, text_body, html_body, excluded_refunded, excluded_unsubscribed, excluded_bounced, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      [a.id, a.product, a.subject, a.text, a.html, a.excluded.refunded, a.excluded.unsubscribed, a.excluded.bounced, now, now],
    );
    if (inserted !== 1) return false;
    for (let start = 0; start < a.recipients.length; start += INSERT_CHUNK) {
      const chunk = a.recipients.slice(start, start + INSERT_CHUNK);
      await tx.exec(
        `INSERT INTO announcement_recipients (announcement_id, position, email, name, charge_id, state, updated_at) VALUES ${chunk.map(() => "(?, ?, ?, ?, ?, 'pending', ?)").join(", ")}`,
        chunk.flatMap((r, i) => [a.id, start + i, r.email, r.name, r.charge, now]),
      );
    }
    return true;
  });
}

export async function recipientCounts(db: Sql, id: string): Promise<Record<RecipientState, number>> {
  const rows = await db.query<{ state: RecipientState; n: number }>("SELECT state, count(*) AS n FROM announcement_recipients WHERE announcement_id = ? GROUP BY state", [id]);
  const counts = { pending: 0, sending: 0, sent: 0, unknown: 0, unsubscribed: 0 };
  for (const r of rows) counts[r.state] = num(r.n);
  return counts;
}

/**
 * Serialises the claims of one announcement across processes and hosts: every claim
 * transaction writes the announcement's row first (SQLite's BEGIN IMMEDIATE already holds the
 * file's write lock; on PostgreSQL this row lock makes two runs take turns).
 */
export async function lockAnnouncement(tx: Sql, id: string, now: number): Promise<void> {
  await tx.exec("UPDATE announcements SET updated_at = ? WHERE id = ?", [now, id]);
}

export async function batchesInState(db: Sql, id: string, state: BatchState): Promise<BatchRow[]> {
  return (await db.query<BatchRow>("SELECT * FROM announcement_batches WHERE announcement_id = ? AND state = ? ORDER BY created_at, key", [id, state])).map(asBatch);
}

export async function batchMembers(db: Sql, key: string): Promise<RecipientRow[]> {
  return (await db.query<RecipientRow>("SELECT * FROM announcement_recipients WHERE batch_key = ? ORDER BY position", [key])).map(asRecipient);
}

/** The next pending recipients in audience order (inside a claim transaction). */
export async function pendingRecipients(db: Sql, id: string, limit: number): Promise<RecipientRow[]> {
  return (await db.query<RecipientRow>(
    "SELECT * FROM announcement_recipients WHERE announcement_id = ? AND state = 'pending' ORDER BY position LIMIT ?", [id, limit],
  )).map(asRecipient);
}

/** Recipients who unsubscribed since the audience was taken: they are skipped, never sent. */
export async function skipUnsubscribed(db: Sql, id: string, positions: readonly number[], now: number): Promise<void> {
  for (const p of positions) {
    await db.exec("UPDATE announcement_recipients SET state = 'unsubscribed', updated_at = ? WHERE announcement_id = ? AND position = ? AND state = 'pending'", [now, id, p]);
  }
}

/** The number the next batch's key takes (inside a claim transaction). */
export async function nextBatchNumber(db: Sql, id: string): Promise<number> {
  await db.exec("UPDATE announcements SET batches = batches + 1 WHERE id = ?", [id]);
  const row = await db.one<{ batches: number }>("SELECT batches FROM announcements WHERE id = ?", [id]);
  return num(row?.batches);
}

/**
 * Records a batch (its key, its members, its exact body) and claims it for `owner`, before any
 * request carries it. The members must be pending: the caller read them in this transaction.
 */
export async function recordBatch(db: Sql, b: { key: string; announcement: string; body: string; positions: readonly number[]; owner: string; leaseMs: number }, now: number): Promise<void> {
  await db.exec(
    `INSERT INTO announcement_batches (key, announcement_id, size, body, state, lease_owner, lease_until, first_sent_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'sending', ?, ?, ?, ?, ?)`,
    [b.key, b.announcement, b.positions.length, b.body, b.owner, now + b.leaseMs, now, now, now],
  );
  for (let start = 0; start < b.positions.length; start += INSERT_CHUNK) {
    const chunk = b.positions.slice(start, start + INSERT_CHUNK);
    await db.exec(
      `UPDATE announcement_recipients SET state = 'sending', batch_key = ?, error = NULL, updated_at = ?
       WHERE announcement_id = ? AND position IN (${chunk.map(() => "?").join(", ")})`,
      [b.key, now, b.announcement, ...chunk],
    );
  }
}

/**
 * Takes over a recorded batch whose holder is gone (its lease expired, or it is this host's
 * process that died, or it was released after an unknown outcome), to replay it as it was.
 */
export async function takeOverBatch(db: Sql, key: string, owner: string, leaseMs: number, now: number, deadOwner: string | null): Promise<boolean> {
  const changed = await db.exec(
    `UPDATE announcement_batches SET lease_owner = ?, lease_until = ?, outcome_unknown = 1, updated_at = ?
     WHERE key = ? AND state = 'sending' AND (lease_owner IS NULL OR lease_until < ? OR lease_owner = ?)`,
    [owner, now + leaseMs, now, key, now, deadOwner ?? ""],
  );
  return changed === 1;
}

export async function renewBatchLease(db: Sql, key: string, owner: string, leaseMs: number, now: number): Promise<boolean> {
  const changed = await db.exec(
    "UPDATE announcement_batches SET lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE key = ? AND state = 'sending' AND lease_owner = ?",
    [now + leaseMs, now, key, owner],
  );
  return changed === 1;
}

/** Resend accepted the batch: each member is sent with its id (`ids` in the members' order). */
export async function commitBatchSent(db: Sql, key: string, ids: readonly string[], now: number): Promise<void> {
  await db.transaction(async (tx) => {
    const members = await batchMembers(tx, key);
    if (members.length !== ids.length) throw new Error(`batch ${key} has ${members.length} members but Resend returned ${ids.length} ids`);
    for (const [i, m] of members.entries()) {
      await tx.exec(
        "UPDATE announcement_recipients SET state = 'sent', email_id = ?, error = NULL, sent_at = ?, updated_at = ? WHERE announcement_id = ? AND position = ?",
        [ids[i], now, now, m.announcement_id, m.position],
      );
    }
    await tx.exec("UPDATE announcement_batches SET state = 'sent', lease_owner = NULL, lease_until = NULL, error = NULL, updated_at = ? WHERE key = ?", [now, key]);
  });
}

/** Resend certainly sent none of the batch: its members wait again, the error kept on each. */
export async function commitBatchFailed(db: Sql, key: string, error: string, now: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.exec("UPDATE announcement_recipients SET state = 'pending', batch_key = NULL, error = ?, updated_at = ? WHERE batch_key = ? AND state = 'sending'", [error, now, key]);
    await tx.exec("UPDATE announcement_batches SET state = 'failed', lease_owner = NULL, lease_until = NULL, error = ?, updated_at = ? WHERE key = ?", [error, now, key]);
  });
}

/**
 * Resend refused the batch for one of its emails (validation is all or nothing): it becomes
 * its halves, each recorded with its own key and the very same emails, claimed by `owner`.
 */
export async function splitBatch(db: Sql, key: string, halves: readonly { key: string; body: string; positions: readonly number[] }[], owner: string, leaseMs: number, error: string, now: number): Promise<void> {
  await db.transaction(async (tx) => {
    const parent = (await tx.one<{ announcement_id: string }>("SELECT announcement_id FROM announcement_batches WHERE key = ?", [key])) as { announcement_id: string };
    await tx.exec("UPDATE announcement_batches SET state = 'split', lease_owner = NULL, lease_until = NULL, error = ?, updated_at = ? WHERE key = ?", [error, now, key]);
    for (const h of halves) await recordBatch(tx, { ...h, announcement: parent.announcement_id, owner, leaseMs }, now);
  });
}

/** The outcome is unknown: the batch stays recorded for a replay (same key, same body), by anyone. */
export async function releaseBatch(db: Sql, key: string, owner: string, error: string, now: number): Promise<void> {
  await db.exec(
    "UPDATE announcement_batches SET lease_owner = NULL, lease_until = NULL, outcome_unknown = 1, error = ?, updated_at = ? WHERE key = ? AND lease_owner = ?",
    [error, now, key, owner],
  );
}

/** Past the window Resend remembers keys in: its members are counted unknown and never sent again. */
export async function expireBatch(db: Sql, key: string, error: string, now: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.exec("UPDATE announcement_recipients SET state = 'unknown', error = ?, updated_at = ? WHERE batch_key = ? AND state = 'sending'", [error, now, key]);
    await tx.exec("UPDATE announcement_batches SET state = 'unknown', lease_owner = NULL, lease_until = NULL, error = ?, updated_at = ? WHERE key = ?", [error, now, key]);
  });
}

/** Download links issued for an announcement: their expiry runs from when Resend accepted it. */
export async function startLinkExpiry(db: Sql, key: string, source: string, acceptedAt: number): Promise<void> {
  await db.exec(
    `UPDATE download_links SET expires_at = ? + (expires_at - created_at), created_at = ?
     WHERE source = ? AND charge_id IN (SELECT charge_id FROM announcement_recipients WHERE batch_key = ?) AND created_at < ?`,
    [acceptedAt, acceptedAt, source, key, acceptedAt],
  );
}

/** The announcements an address was sent, newest first: for `lookup`. */
export async function announcementsOf(db: Sql, email: string): Promise<BuyerAnnouncement[]> {
  const rows = await db.query<{ announcement: string; product: string; at: number; email_id: string }>(
    `SELECT r.announcement_id AS announcement, a.product, r.sent_at AS at, r.email_id
     FROM announcement_recipients r JOIN announcements a ON a.id = r.announcement_id
     WHERE r.email = ? AND r.state = 'sent' ORDER BY r.sent_at DESC`,
    [email.toLowerCase()],
  );
  return rows.map((r) => ({ announcement: r.announcement, product: r.product, at: num(r.at), emailId: r.email_id }));
}

/** The key download and unsubscribe tokens are signed with, without making one (dry runs write nothing). */
export async function peekLinkKey(db: Sql): Promise<string | undefined> {
  return (await db.one<{ value: string }>("SELECT value FROM meta WHERE key = 'link_key'"))?.value;
}
