import os from "node:os";
import type { CreateBatchEmailOptions } from "resend";
import type { Product } from "../config";
import { MAX_BATCH } from "../delivery/batch-mailer";
import { downloadVars } from "../downloads/links";
import { BATCH, LEASE_MS, Ledger, RecipientRow, SAFE_REPLAY_MS } from "../ledger";
import { batchKey } from "./identity";
import { AnnouncementTemplates, renderAnnouncement } from "./templates";
import { unsubscribeUrl } from "./unsubscribe-token";

// A recorded batch: up to 100 recipients claimed in one transaction together with the exact
// emails that carry them and the key they go under. Recording first is what makes a crash
// harmless: whoever picks the batch up later (this run, a re-run, another host) sends those
// very bytes under that key, and Resend answers the original ids instead of sending again.

export interface AnnouncementJob {
  id: string;
  product: Product;
  templates: AnnouncementTemplates;
  /** Links are issued only when a template shows them. */
  withDownloads: boolean;
  publicUrl: string;
  from: string;
  replyTo?: string;
}

export interface ClaimedBatch {
  key: string;
  /** The emails as stored: JSON of the batch request's body before the SDK maps its fields. */
  body: string;
  size: number;
  /** No request of it may start after this (ms): Resend forgets keys after 24 h. */
  replayUntil: number;
  replay: boolean;
}

export type Claim = ClaimedBatch | "wait" | null;

/** The source download links of an announcement are issued under: one rendering per buyer. */
export const linkSource = (id: string) => `a:${id}`;

export const UNKNOWN_AFTER_WINDOW = "outcome of send unknown: the first try is older than 23 h, too close to the end of Resend's 24 h idempotency window to repeat it safely; not sent again";

/**
 * Whether a lease's holder is a process of this host that no longer runs (SIGKILL, a crash):
 * its batch can be replayed at once instead of after the lease runs out.
 */
export function ownerIsGone(owner: string): boolean {
  const [host, pidText] = owner.split(":");
  const pid = Number(pidText);
  if (host !== os.hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

async function emailFor(tx: Ledger, job: AnnouncementJob, linkKey: string, r: RecipientRow, now: number): Promise<CreateBatchEmailOptions> {
  const unsubscribe = unsubscribeUrl(job.publicUrl, linkKey, r.email);
  const downloads = job.withDownloads && job.product.downloads
    ? await downloadVars(tx, { publicUrl: job.publicUrl, charge: r.charge_id, product: job.product.key, downloads: job.product.downloads, source: linkSource(job.id) }, now)
    : undefined;
  const rendered = renderAnnouncement(job.templates, { name: r.name ?? "", email: r.email, product: job.product.name, unsubscribe, downloads });
  return {
    from: job.from,
    to: [r.email],
    subject: rendered.subject,
    text: rendered.text,
    ...(rendered.html !== undefined ? { html: rendered.html } : {}),
    ...(job.replyTo ? { replyTo: job.replyTo } : {}),
    // RFC 8058: the mail provider's unsubscribe button POSTs List-Unsubscribe=One-Click here.
    headers: { "List-Unsubscribe": `<${unsubscribe}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" },
  } as CreateBatchEmailOptions;
}

/**
 * The next batch for `owner`: a recorded one nobody holds (replayed as it was), else a new one
 * of the lowest pending recipients. "wait" when what is left is held by another live run;
 * null when nothing is left. `skip`: batches and recipients this run already gave up on.
 */
export async function claimBatch(ledger: Ledger, job: AnnouncementJob, owner: string, now: number, skip: { keys: Set<string>; positions: Set<number> }): Promise<Claim> {
  return ledger.transaction(async (tx): Promise<Claim> => {
    await tx.lockAnnouncement(job.id, now);
    let othersHold = false;
    for (const b of await tx.batchesInState(job.id, BATCH.sending)) {
      if (skip.keys.has(b.key)) continue;
      const free = b.lease_owner === null || (b.lease_until ?? 0) < now || ownerIsGone(b.lease_owner);
      if (!free) {
        othersHold = true;
        continue;
      }
      const first = b.first_sent_at ?? now;
      if (now - first >= SAFE_REPLAY_MS) {
        await tx.expireBatch(b.key, UNKNOWN_AFTER_WINDOW, now);
        continue;
      }
      await tx.takeOverBatch(b.key, owner, LEASE_MS, now, b.lease_owner);
      return { key: b.key, body: b.body, size: b.size, replayUntil: first + SAFE_REPLAY_MS, replay: true };
    }
    const unsubscribed = await tx.unsubscribedAddresses();
    for (;;) {
      const pending = (await tx.pendingRecipients(job.id, MAX_BATCH + skip.positions.size)).filter((r) => !skip.positions.has(r.position));
      if (pending.length === 0) return othersHold ? "wait" : null;
      const gone = pending.filter((r) => unsubscribed.has(r.email));
      if (gone.length > 0) await tx.skipUnsubscribed(job.id, gone.map((r) => r.position), now);
      const members = pending.filter((r) => !unsubscribed.has(r.email)).slice(0, MAX_BATCH);
      if (members.length === 0) continue;
      const linkKey = await tx.linkKey();
      const emails: CreateBatchEmailOptions[] = [];
      for (const r of members) emails.push(await emailFor(tx, job, linkKey, r, now));
      const key = batchKey(job.id, await tx.nextBatchNumber(job.id));
      const body = JSON.stringify(emails);
      await tx.recordBatch({ key, announcement: job.id, body, positions: members.map((r) => r.position), owner, leaseMs: LEASE_MS }, now);
      return { key, body, size: members.length, replayUntil: now + SAFE_REPLAY_MS, replay: false };
    }
  });
}

/**
 * A batch Resend refused for one of its emails becomes its two halves, recorded with new keys
 * and the same emails (none of the refused batch was sent: validation is all or nothing).
 */
export async function splitRefused(ledger: Ledger, job: AnnouncementJob, batch: ClaimedBatch, owner: string, reason: string, now: number): Promise<ClaimedBatch[]> {
  const emails = JSON.parse(batch.body) as unknown[];
  const members = await ledger.batchMembers(batch.key);
  const mid = Math.ceil(members.length / 2);
  const halves: { key: string; body: string; positions: number[] }[] = [];
  for (const [from, to] of [[0, mid], [mid, members.length]] as const) {
    halves.push({ key: "", body: JSON.stringify(emails.slice(from, to)), positions: members.slice(from, to).map((m) => m.position) });
  }
  await ledger.transaction(async (tx) => {
    await tx.lockAnnouncement(job.id, now);
    for (const h of halves) h.key = batchKey(job.id, await tx.nextBatchNumber(job.id));
    await tx.splitBatch(batch.key, halves, owner, LEASE_MS, reason, now);
  });
  return halves.map((h) => ({ key: h.key, body: h.body, size: h.positions.length, replayUntil: now + SAFE_REPLAY_MS, replay: false }));
}
