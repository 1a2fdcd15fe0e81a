import { disableForAfterDelivery } from "./licenses";
import type { Sql } from "./sql";

// Download links and what happened to them: the links each send rendered, every request made
// through them (evidence for a dispute), refunds and disputes noticed after delivery (which
// revoke the links), and the buyers' page's once-per-15-minutes rule per address.

export interface LinkRow {
  charge_id: string;
  product: string;
  file_index: number;
  issue: number;
  /** What rendered it: "send" (the first email, re-sent byte for byte after a crash), "r<n>", "page:<ms>". */
  source: string;
  file_name: string;
  file_path: string;
  created_at: number;
  expires_at: number;
  max_downloads: number;
  downloads: number;
  /** Bytes reserved by answers so far, ranges included (any unsent rest given back). */
  bytes_served: number;
  /** How long the link works, counted from `accepted_at`; null on links made before it was kept. */
  expires_after_ms: number | null;
  /** When Resend first accepted the email carrying the link; null until then. */
  accepted_at: number | null;
  requests_logged: number;
}

export interface LinkId {
  charge: string;
  product: string;
  file: number;
  issue: number;
}

export interface NewLinks {
  charge: string;
  product: string;
  source: string;
  files: { name: string; path: string }[];
  expiresAfterMs: number;
  maxDownloads: number;
}

export interface DownloadRequest {
  link: LinkId;
  at: number;
  ip: string;
  userAgent: string | null;
  method: string;
  range: string | null;
  status: number;
  bytes: number;
  counted: boolean;
}

export interface DownloadRequestRow {
  charge_id: string;
  product: string;
  file_index: number;
  issue: number;
  file_name: string;
  at: number;
  ip: string;
  user_agent: string | null;
  method: string;
  range_header: string | null;
  status: number;
  bytes: number;
  counted: number;
}

export type AfterDeliveryEvent = "refunded" | "disputed";

export interface AfterDeliveryRow {
  charge_id: string;
  event: AfterDeliveryEvent;
  at: number;
  noticed_at: number;
  downloads: number;
  alerted: number;
}

const num = (v: unknown) => Number(v);

function asLink(r: LinkRow): LinkRow {
  // PostgreSQL returns BIGINT as a string: numbers in, numbers out.
  const maybe = (v: unknown) => (v === null || v === undefined ? null : num(v));
  return {
    ...r, file_index: num(r.file_index), issue: num(r.issue), created_at: num(r.created_at), expires_at: num(r.expires_at),
    max_downloads: num(r.max_downloads), downloads: num(r.downloads), bytes_served: num(r.bytes_served),
    expires_after_ms: maybe(r.expires_after_ms), accepted_at: maybe(r.accepted_at), requests_logged: num(r.requests_logged),
  };
}

/**
 * The key download tokens are signed with. Made once (at `init`, or by the first ledger that
 * needs one) and kept in the ledger, so every host sharing it signs and checks alike; two hosts
 * racing to make it both end up with the one that was stored first.
 */
export async function linkKey(db: Sql): Promise<string> {
  const found = await db.one<{ value: string }>("SELECT value FROM meta WHERE key = 'link_key'");
  if (found) return found.value;
  // node:crypto loads here, not with the module: `status --offline` reads after_delivery (below)
  // and is started every minute by monitors; crypto is the heaviest of Node's own modules to load.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { randomBytes } = require("node:crypto") as typeof import("node:crypto");
  await db.exec("INSERT INTO meta (key, value) VALUES ('link_key', ?) ON CONFLICT (key) DO NOTHING", [randomBytes(32).toString("base64url")]);
  return ((await db.one<{ value: string }>("SELECT value FROM meta WHERE key = 'link_key'")) as { value: string }).value;
}

/**
 * The links of one rendering. Asked again with the same source, it returns the links made the
 * first time: a send repeated after a crash carries the very same links. Until Resend has
 * accepted an email carrying them, a render is the start of their count: an email rendered
 * afresh (every earlier try refused for certain, days ago) shows, and gets, a full expiresAfter.
 */
export async function issueLinks(db: Sql, req: NewLinks, now: number): Promise<LinkRow[]> {
  return db.transaction(async (tx) => {
    await lockRenderings(tx, req.charge, req.product);
    const existing = await linksOf(tx, req.charge, req.product, req.source);
    if (existing.length > 0) {
      const changed = await tx.exec(
        "UPDATE download_links SET expires_at = ? + expires_after_ms WHERE charge_id = ? AND product = ? AND source = ? AND accepted_at IS NULL AND expires_after_ms IS NOT NULL",
        [Math.floor(now), req.charge, req.product, req.source],
      );
      return changed > 0 ? linksOf(tx, req.charge, req.product, req.source) : existing;
    }
    const top = await tx.one<{ issue: number | null }>("SELECT max(issue) AS issue FROM download_links WHERE charge_id = ? AND product = ?", [req.charge, req.product]);
    const issue = top?.issue === null || top?.issue === undefined ? 0 : num(top.issue) + 1;
    for (const [i, f] of req.files.entries()) {
      await tx.exec(
        `INSERT INTO download_links (charge_id, product, file_index, issue, source, file_name, file_path, created_at, expires_at, expires_after_ms, max_downloads, downloads)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`,
        [req.charge, req.product, i, issue, req.source, f.name, f.path, now, now + req.expiresAfterMs, req.expiresAfterMs, req.maxDownloads],
      );
    }
    return linksOf(tx, req.charge, req.product, req.source);
  });
}

/**
 * One rendering of a purchase's links at a time. On PostgreSQL two hosts (or a send and the
 * buyers' page) would otherwise both read the same max(issue) and the second insert would fail
 * on the primary key (23505), or, for one source, both write a set. A transaction-scoped
 * advisory lock on the purchase makes them take turns, whether or not its charge row exists;
 * each statement after it reads what the other committed. SQLite's BEGIN IMMEDIATE already
 * serialises every writer.
 */
async function lockRenderings(tx: Sql, charge: string, product: string): Promise<void> {
  if (tx.dialect !== "postgres") return;
  await tx.one("SELECT pg_advisory_xact_lock(hashtextextended(?, 0)) AS locked", [`paidup-links:${charge}:${product}`]);
}

async function linksOf(db: Sql, charge: string, product: string, source: string): Promise<LinkRow[]> {
  const rows = await db.query<LinkRow>("SELECT * FROM download_links WHERE charge_id = ? AND product = ? AND source = ? ORDER BY file_index", [charge, product, source]);
  return rows.map(asLink);
}

/** The links one rendering made, as stored (read only: nothing is issued or refreshed). */
export function renderedLinks(db: Sql, charge: string, product: string, source: string): Promise<LinkRow[]> {
  return linksOf(db, charge, product, source);
}

/**
 * Resend accepted an email carrying the links of this rendering: the first acceptance starts
 * their expiry (`expiresAfter` from now); a later one (a re-send Resend recognised) changes
 * nothing. Written in the same transaction as the delivery it belongs to, where there is one.
 */
export async function acceptLinks(db: Sql, charge: string, product: string, source: string, at: number): Promise<void> {
  await db.exec(
    "UPDATE download_links SET accepted_at = ?, expires_at = ? + expires_after_ms WHERE charge_id = ? AND product = ? AND source = ? AND accepted_at IS NULL AND expires_after_ms IS NOT NULL",
    // Whole milliseconds, rounded down (a test clock has fractions; PostgreSQL BIGINT would round them).
    [Math.floor(at), Math.floor(at), charge, product, source],
  );
}

export async function getLink(db: Sql, id: LinkId): Promise<LinkRow | undefined> {
  const row = await db.one<LinkRow>("SELECT * FROM download_links WHERE charge_id = ? AND product = ? AND file_index = ? AND issue = ?", [id.charge, id.product, id.file, id.issue]);
  return row && asLink(row);
}

/** Every request through any of a charge's links, oldest first, with the file's name. */
export async function downloadRequestsOf(db: Sql, charge: string): Promise<DownloadRequestRow[]> {
  const rows = await db.query<DownloadRequestRow>(
    `SELECT r.charge_id, r.product, r.file_index, r.issue, l.file_name, r.at, r.ip, r.user_agent, r.method, r.range_header, r.status, r.bytes, r.counted
     FROM download_requests r JOIN download_links l
       ON l.charge_id = r.charge_id AND l.product = r.product AND l.file_index = r.file_index AND l.issue = r.issue
     WHERE r.charge_id = ? ORDER BY r.at, r.issue, r.file_index, r.seq`,
    [charge],
  );
  return rows.map((r) => ({ ...r, file_index: num(r.file_index), issue: num(r.issue), at: num(r.at), status: num(r.status), bytes: num(r.bytes), counted: num(r.counted) }));
}

/** Downloads counted on a charge's links before `at` (ms). */
export async function downloadsBefore(db: Sql, charge: string, at: number): Promise<number> {
  const row = await db.one<{ n: number }>("SELECT count(*) AS n FROM download_requests WHERE charge_id = ? AND counted = 1 AND at <= ?", [charge, at]);
  return num(row?.n ?? 0);
}

/**
 * A refund or dispute of a delivered charge, recorded once per kind (a webhook and a poll may both
 * see it). From then on every link of the charge answers 410 and its license keys are disabled. True if
 * it was new.
 */
export async function recordAfterDelivery(db: Sql, charge: string, event: AfterDeliveryEvent, at: number, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const downloads = await downloadsBefore(tx, charge, at);
    const known = await tx.one<{ at: number }>("SELECT at FROM after_delivery WHERE charge_id = ? AND event = ?", [charge, event]);
    if (known) {
      // Noticed first by a webhook or a pass (at = then), later read from Stripe's events with
      // Stripe's own time: the earlier, truer time wins, and the downloads counted before it.
      if (at < num(known.at)) await tx.exec("UPDATE after_delivery SET at = ?, downloads = ? WHERE charge_id = ? AND event = ?", [at, downloads, charge, event]);
      return false;
    }
    await tx.exec("INSERT INTO after_delivery (charge_id, event, at, noticed_at, downloads, alerted) VALUES (?, ?, ?, ?, ?, 0)", [charge, event, at, now, downloads]);
    // In the same transaction: a key is never left active after its refund or dispute is recorded.
    await disableForAfterDelivery(tx, charge, event, now);
    return true;
  });
}

export async function isRevoked(db: Sql, charge: string): Promise<boolean> {
  return (await db.one("SELECT 1 AS x FROM after_delivery WHERE charge_id = ?", [charge])) !== undefined;
}

function asAfter(r: AfterDeliveryRow): AfterDeliveryRow {
  return { ...r, at: num(r.at), noticed_at: num(r.noticed_at), downloads: num(r.downloads), alerted: num(r.alerted) };
}

/** Refunds and disputes after delivery noticed since `since` (ms), oldest first. */
export async function afterDeliverySince(db: Sql, since: number): Promise<AfterDeliveryRow[]> {
  const rows = await db.query<AfterDeliveryRow>("SELECT * FROM after_delivery WHERE at >= ? OR noticed_at >= ? ORDER BY at, charge_id, event", [since, since]);
  return rows.map(asAfter);
}

export async function afterDeliveryOf(db: Sql, charge: string): Promise<AfterDeliveryRow[]> {
  return (await db.query<AfterDeliveryRow>("SELECT * FROM after_delivery WHERE charge_id = ? ORDER BY at", [charge])).map(asAfter);
}

export async function unalertedDisputes(db: Sql): Promise<AfterDeliveryRow[]> {
  return (await db.query<AfterDeliveryRow>("SELECT * FROM after_delivery WHERE event = 'disputed' AND alerted = 0 ORDER BY at, charge_id")).map(asAfter);
}

export async function markDisputesAlerted(db: Sql, charges: readonly string[]): Promise<void> {
  for (const c of charges) await db.exec("UPDATE after_delivery SET alerted = 1 WHERE charge_id = ? AND event = 'disputed'", [c]);
}

/**
 * The buyers' page sends an address at most one email per `windowMs`, across restarts and hosts:
 * true when this request may send (and the window starts now). One statement, so two requests
 * at once cannot both pass.
 */
export async function takeBuyerRequest(db: Sql, email: string, now: number, windowMs: number): Promise<boolean> {
  const changed = await db.exec(
    `INSERT INTO buyer_requests (email, last_at) VALUES (?, ?)
     ON CONFLICT (email) DO UPDATE SET last_at = excluded.last_at WHERE buyer_requests.last_at <= ?`,
    [email, now, now - windowMs],
  );
  return changed === 1;
}

/** Delivered (or resolved) charges of one address, compared case-insensitively. */
export async function deliveredChargesOf(db: Sql, email: string): Promise<{ id: string; product: string | null; name: string | null; email: string }[]> {
  return db.query("SELECT id, product, name, email FROM charges WHERE lower(email) = ? AND state IN ('delivered', 'resolved') ORDER BY created", [email.toLowerCase()]);
}
