import type { CreateBatchOptions } from "resend";
import type { Clock } from "../clock";
import type { BatchMailer } from "../delivery/batch-mailer";
import { LEASE_MS, Ledger } from "../ledger";
import type { Logger } from "../log";
import { AnnouncementJob, ClaimedBatch, claimBatch, linkSource, splitRefused } from "./batches";
import { takeAudience } from "./audience";

// One run of `paidup announce`: take the audience if this announcement is new, then claim a
// recorded batch → send it outside any transaction → commit on Resend's ids, until nothing is
// left. One batch is in hand at a time, so a delivery sharing the pacer waits behind one batch
// at most; at 5 requests/s that is still 500 emails a second.

/** Tries of one batch within a run when its outcome is unknown (same key, same body each time). */
const UNKNOWN_TRIES = 3;
const RETRY_DELAYS_MS = [500, 2000];
/** How often a run that has nothing left to claim looks whether another run's batches are done. */
const WAIT_POLL_MS = 200;

export interface AnnounceDeps {
  ledger: Ledger;
  mailer: BatchMailer;
  clock: Clock;
  log: Logger;
  owner: string;
  signal?: AbortSignal;
}

export interface AnnouncementSummary {
  announcement: string;
  product: string;
  recipients: number;
  sent: number;
  alreadySent: number;
  failed: number;
  unknown: number;
  excluded: { unsubscribed: number; bounced: number; refunded: number };
}

/** Stores the announcement and its audience unless it exists; true when this run started it. */
export async function startAnnouncement(ledger: Ledger, job: AnnouncementJob, now: number): Promise<boolean> {
  if (await ledger.getAnnouncement(job.id)) return false;
  return ledger.transaction(async (tx) => {
    const audience = await takeAudience(tx, job.product.key);
    return tx.createAnnouncement({
      id: job.id, product: job.product.key, subject: job.templates.subject, text: job.templates.text, html: job.templates.html,
      excluded: audience.excluded, recipients: audience.recipients,
    }, now);
  });
}

export async function summarize(ledger: Ledger, id: string, sentByThisRun: number): Promise<AnnouncementSummary> {
  const a = await ledger.getAnnouncement(id);
  if (!a) throw new Error(`announcement ${id} is not in the ledger`);
  const c = await ledger.recipientCounts(id);
  return {
    announcement: id,
    product: a.product,
    recipients: c.pending + c.sending + c.sent + c.unknown,
    sent: sentByThisRun,
    alreadySent: c.sent - sentByThisRun,
    failed: c.pending + c.sending,
    unknown: c.unknown,
    excluded: { unsubscribed: a.excluded_unsubscribed + c.unsubscribed, bounced: a.excluded_bounced, refunded: a.excluded_refunded },
  };
}

/** Sends what is left of the announcement; `onSent` after each committed batch. */
export async function sendAnnouncement(deps: AnnounceDeps, job: AnnouncementJob, onSent: (n: number) => void = () => undefined): Promise<AnnouncementSummary> {
  const { ledger, clock, log } = deps;
  const skip = { keys: new Set<string>(), positions: new Set<number>() };
  const inHand: ClaimedBatch[] = [];
  let sent = 0;
  let stop = false;
  while (!stop && !deps.signal?.aborted) {
    const batch = inHand.shift() ?? (await claimBatch(ledger, job, deps.owner, clock.now(), skip));
    if (batch === null) break;
    if (batch === "wait") {
      await clock.sleep(WAIT_POLL_MS, deps.signal);
      continue;
    }
    const outcome = await sendOne(deps, job, batch);
    if (outcome.kind === "sent") {
      sent += batch.size;
      onSent(batch.size);
    } else if (outcome.kind === "split") {
      inHand.unshift(...outcome.halves);
    } else if (outcome.kind === "refused") {
      for (const p of outcome.positions) skip.positions.add(p);
    } else if (outcome.kind === "unknown") {
      skip.keys.add(batch.key);
    } else {
      log.error(`announcement ${job.id}: stopping: ${outcome.reason}`);
      stop = true;
    }
  }
  return summarize(ledger, job.id, sent);
}

type Outcome =
  | { kind: "sent" }
  | { kind: "split"; halves: ClaimedBatch[] }
  | { kind: "refused"; positions: number[] }
  | { kind: "unknown" }
  | { kind: "stop"; reason: string };

async function sendOne(deps: AnnounceDeps, job: AnnouncementJob, batch: ClaimedBatch): Promise<Outcome> {
  const { ledger, clock, log } = deps;
  const emails = JSON.parse(batch.body) as CreateBatchOptions;
  for (let attempt = 0; ; attempt++) {
    if (!(await ledger.renewBatchLease(batch.key, deps.owner, LEASE_MS, clock.now()))) {
      // Another run took it over (our lease ran out): it is theirs to finish.
      return { kind: "unknown" };
    }
    const result = await deps.mailer.send(emails, batch.key, batch.replayUntil, deps.signal);
    const now = clock.now();
    if (result.ok) {
      await ledger.transaction(async (tx) => {
        await tx.commitBatchSent(batch.key, result.ids, now);
        if (job.withDownloads) await tx.startLinkExpiry(batch.key, linkSource(job.id), now);
      });
      return { kind: "sent" };
    }
    if (result.refused) {
      if (batch.size > 1) {
        log.info(`announcement ${job.id}: Resend refused batch ${batch.key} of ${batch.size} for one address; sending it in halves`, { reason: result.reason });
        return { kind: "split", halves: await splitRefused(ledger, job, batch, deps.owner, result.reason, now) };
      }
      const [member] = await ledger.batchMembers(batch.key);
      log.warn(`announcement ${job.id}: Resend refused the email to ${member?.email ?? "?"}: ${result.reason}`);
      await ledger.commitBatchFailed(batch.key, result.reason, now);
      return { kind: "refused", positions: member ? [member.position] : [] };
    }
    if (!result.outcomeUnknown) {
      // Certain that nothing went: the members wait for the next run.
      // A refused key, an unverified domain, a used-up quota: no other batch can go either.
      await ledger.commitBatchFailed(batch.key, result.reason, now);
      return { kind: "stop", reason: result.reason };
    }
    if (!result.retryable || attempt + 1 >= UNKNOWN_TRIES || deps.signal?.aborted) {
      // Kept recorded: a later run replays it, byte for byte, under the same key, within 23 h.
      await ledger.releaseBatch(batch.key, deps.owner, result.reason, now);
      log.warn(`announcement ${job.id}: batch ${batch.key}: ${result.reason}; run the command again to repeat it`);
      return { kind: "unknown" };
    }
    await clock.sleep(RETRY_DELAYS_MS[attempt] ?? 2000, deps.signal);
  }
}
