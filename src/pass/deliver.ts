import type Stripe from "stripe";
import { UsageError } from "../errors";
import { ignoredVerdict, judge, needsDisputeOutcome, REJUDGEABLE, REOPENABLE_SKIPS } from "./eligibility";
import type { ChargeRow, ClaimedDelivery, FailedSend } from "../ledger";
import type { PassDeps } from "./pass-deps";
import { checkAttachments, ProductFileError, StoredPayload, toSendable } from "../delivery/payload";
import { failureClass, SendResult } from "../delivery/send-result";
import { LedgerState, STATE } from "../states";
import { factsOf, Plan, planDelivery } from "./delivery-plan";
import { noticeAfterDelivery } from "./after-delivery";
import { ignoredBy } from "../delivery/ignore";

/** How one charge ended in this pass. `busy`: another process holds it, or its retry is not due. */
export type ChargeOutcome =
  | { kind: "delivered"; emailId: string }
  | { kind: "already_delivered" }
  | { kind: "stopped" }
  | { kind: "busy" }
  | { kind: "would_deliver"; email: string; product: string }
  | { kind: "left"; state: LedgerState; reason: string | null };

function left(state: LedgerState, reason: string | null): ChargeOutcome {
  return { kind: "left", state, reason };
}

/**
 * The one path by which a charge is delivered, shared by the pass and the webhook:
 * judge → plan its products → claim them (transaction) → send each (outside any transaction) →
 * commit each (transaction). Every product is its own delivery, with its own key and claim.
 */
export async function deliverCharge(deps: PassDeps, charge: Stripe.Charge, startLine: number, dryRun = false): Promise<ChargeOutcome> {
  const { ledger, clock } = deps;
  const row = await ledger.getCharge(charge.id);
  // A refund in full or a dispute of a charge the buyer has anything of revokes all its links,
  // whatever state its other products are in (one delivered, another failing, or its claim dead).
  if (row && !dryRun && (charge.refunded || charge.disputed)) await noticeAfterDelivery(deps, charge);
  if (row?.state === STATE.delivered || row?.state === STATE.resolved) return { kind: "already_delivered" };
  // Most skips are final; one the charge may grow out of (the start line moved earlier, a dispute
  // was won) is judged again.
  const reopenable = row?.state === STATE.skipped && REOPENABLE_SKIPS.includes(row.reason ?? "");
  if (row?.state === STATE.skipped && !reopenable) return left(STATE.skipped, row.reason);
  // Resend took it and the buyer's server refused it: only the operator (`resend --to`) can help.
  if (row?.state === STATE.bounced) return left(STATE.bounced, row.reason);

  // The owner's ignore rules come before anything else: an ignored pending charge is skipped, not
  // awaited, and a rule added later reaches charges not yet delivered.
  const ignored = ignoredBy(deps.config.ignore, charge);
  // `disputed` stays true after the shop wins: the dispute itself says how it ended.
  const dispute = !ignored && needsDisputeOutcome(charge, startLine) ? await deps.stripe.disputeOutcome(charge.id) : undefined;
  const verdict = ignored ? ignoredVerdict(ignored) : judge(charge, startLine, dispute);
  if (verdict.kind !== "eligible") {
    if (row?.state === STATE.sending) {
      // Claims whose holder died, on a charge refunded meanwhile: not re-sent.
      if (dryRun || !(await ledger.abandonExpiredClaims(charge.id, verdict.state, verdict.reason, clock.now()))) return { kind: "busy" };
      return left(verdict.state, verdict.reason);
    }
    if (!dryRun) await ledger.recordState(factsOf(charge), verdict.state, { reason: verdict.reason }, reopenable ? [STATE.skipped] : REJUDGEABLE, clock.now());
    return left(verdict.state, verdict.reason);
  }
  if (row && OPEN.includes(row.state) && !hasDueWork(row, clock.now())) {
    return row.state === STATE.sending ? { kind: "busy" } : left(row.state, row.reason);
  }

  if (reopenable && !dryRun) {
    // Grown out of its skip: back in line (awaiting_payment may be claimed), then handled below.
    await ledger.recordState(factsOf(charge), STATE.awaitingPayment, { reason: `judged again after: ${row?.reason ?? ""}` }, [STATE.skipped], clock.now());
  }
  const planned = await planDelivery(deps, charge, row, row ? await ledger.deliveries(charge.id) : [], startLine, dryRun);
  if (planned.kind === "review") return left(STATE.needsReview, planned.reason);
  if (planned.kind === "skip") return left(STATE.skipped, planned.reason);
  const { plan } = planned;
  if (dryRun) return { kind: "would_deliver", email: plan.facts.email ?? "?", product: plan.deliveries.map((d) => d.product).join(",") || (row?.product ?? "?") };
  if (!deps.mailer) throw new Error("deliverCharge needs a mailer outside --dry-run");

  await deps.mailer.waitTurn(deps.signal);
  if (deps.signal?.aborted) return { kind: "stopped" };
  let claimed: Awaited<ReturnType<typeof ledger.claim>>;
  try {
    claimed = await ledger.claim(plan.facts, plan.deliveries, deps.owner, clock.now(), fileReady);
  } catch (err) {
    // The claim may have committed with only its answer lost (the session ended at COMMIT):
    // nothing was sent, so whatever it holds is given back if the ledger lets us now.
    await releaseUnsent(deps, charge.id, plan.deliveries.filter((d) => d.payload !== null).map((d) => d.product));
    throw err;
  }
  if (claimed.kind === "not_claimable") {
    // No send follows: the turn goes back, or passes at once would spend their rate on each other's charges.
    deps.mailer.turnUnused();
    // Another process got there between our read and our claim: its outcome stands.
    const s = claimed.row.state;
    if (s === STATE.delivered || s === STATE.resolved) return { kind: "already_delivered" };
    return s === STATE.sending ? { kind: "busy" } : left(s, claimed.row.reason);
  }
  const stopped = await sendEach(deps, charge.id, plan, claimed.claimed);
  const after = (await ledger.getCharge(charge.id)) as ChargeRow;
  if (after.state === STATE.delivered) return { kind: "delivered", emailId: after.email_id as string };
  if (stopped) return { kind: "stopped" };
  return after.state === STATE.sending ? { kind: "busy" } : left(after.state, after.reason);
}

/**
 * Gives back claims this pass holds but never sent, after a failure cut the charge short (the
 * database went away at a commit, say), so the next pass sends them at once instead of after
 * their 5-minute lease. Best effort: with the database still away this fails too, and the
 * lease covers them. Only our own live claims are touched (releaseClaim checks the holder).
 */
async function releaseUnsent(deps: PassDeps, chargeId: string, products: readonly string[]): Promise<void> {
  for (const product of products) {
    try {
      await deps.ledger.releaseClaim(chargeId, product, deps.owner, deps.clock.now());
    } catch (err) {
      deps.log.debug("could not give back an unsent claim; its lease will", { charge: chargeId, product, error: String(err) });
      return;
    }
  }
}

/** Sends the claimed products one after the other, each paced; true if a stop cut the charge short. */
async function sendEach(deps: PassDeps, chargeId: string, plan: Plan, claimed: readonly ClaimedDelivery[]): Promise<boolean> {
  // From this index on, no send was started: what a failure must give back.
  let unsentFrom = 0;
  try {
    return await sendInTurn(deps, chargeId, plan, claimed, (i) => (unsentFrom = i));
  } catch (err) {
    await releaseUnsent(deps, chargeId, claimed.slice(unsentFrom).map((d) => d.product));
    throw err;
  }
}

async function sendInTurn(
  deps: PassDeps, chargeId: string, plan: Plan, claimed: readonly ClaimedDelivery[], sendStarted: (unsentFrom: number) => void,
): Promise<boolean> {
  const { ledger, clock } = deps;
  const mailer = deps.mailer as NonNullable<PassDeps["mailer"]>;
  for (const [i, d] of claimed.entries()) {
    if (i > 0) await mailer.waitTurn(deps.signal);
    if (deps.signal?.aborted) {
      // Not sent: the next pass takes these products up at once, not after the lease.
      for (const rest of claimed.slice(i)) await ledger.releaseClaim(chargeId, rest.product, deps.owner, clock.now());
      return true;
    }
    // A claim lost while earlier products were sent (its lease ran out) belongs to its new holder.
    if (i > 0 && !(await ledger.renewClaim(chargeId, d.product, deps.owner, clock.now()))) {
      mailer.turnUnused();
      continue;
    }
    let result: SendResult;
    // Whatever happens from here, this product's send may have reached Resend: never given back.
    sendStarted(i + 1);
    try {
      // The stored payload is what gets sent; parsed again only when it is an earlier claim's.
      const fresh = plan.deliveries.find((p) => p.product === d.product)?.payload === d.payload ? plan.rendered.get(d.product) : undefined;
      result = await mailer.send(toSendable(fresh ?? (JSON.parse(d.payload) as StoredPayload)), d.sendKey, d.replayDeadline ?? Infinity);
    } catch (err) {
      if (!(err instanceof ProductFileError)) throw err;
      result = { ok: false, retryable: false, outcomeUnknown: false, reason: err.message };
    }
    if (result.ok) {
      await ledger.commitDelivered(chargeId, d.product, result.emailId, clock.now());
      deps.metrics?.deliveries.inc();
      deps.log.info("delivered", { charge: chargeId, product: d.product, emailId: result.emailId });
      continue;
    }
    const failure = await nextAfterFailure(deps, chargeId, d.product, result);
    await ledger.commitFailure(chargeId, d.product, deps.owner, failure, clock.now());
    deps.metrics?.sendFailures.inc({ class: failureClass(result) });
    deps.log.warn("send failed", { charge: chargeId, product: d.product, error: result.reason, next: failure.next.state });
    if (result.keyRejected) {
      for (const rest of claimed.slice(i + 1)) await ledger.releaseClaim(chargeId, rest.product, deps.owner, clock.now());
      throw new UsageError(result.reason, "fix RESEND_API_KEY; the charge was put back in line");
    }
  }
  return false;
}

function fileReady(file: string): boolean {
  try {
    checkAttachments([file]);
    return true;
  } catch {
    return false;
  }
}

const OPEN: readonly LedgerState[] = [STATE.sending, STATE.retrying, STATE.needsReview];

/**
 * Whether any product of an open charge can be sent now: a retry that is due, a claim whose
 * holder died, or a product file staged since. The charge shows its product furthest from done,
 * so a charge in review for one product still retries its others.
 */
export function hasDueWork(row: ChargeRow, now: number): boolean {
  if (row.next_attempt_at !== null && row.next_attempt_at <= now) return true;
  if (row.lease_until !== null && row.lease_until < now) return true;
  return row.blocked_on_file !== null && fileReady(row.blocked_on_file);
}

async function nextAfterFailure(deps: PassDeps, chargeId: string, product: string, result: Extract<SendResult, { ok: false }>): Promise<FailedSend> {
  const { retry } = deps.config;
  const failedBefore = (await deps.ledger.deliveries(chargeId)).find((d) => d.product === product)?.failed_sends ?? 0;
  const base = { error: result.reason, outcomeUnknown: result.outcomeUnknown };
  if (!result.retryable) return { ...base, next: { state: STATE.needsReview, reason: result.reason } };
  if (result.quotaExceeded) {
    // Resend refused it for the team's daily or monthly quota, not for this charge: the charge
    // waits for the quota to refill, and the wait uses up none of its attempts (CONTRACT.md).
    return { ...base, notAnAttempt: true, next: { state: STATE.retrying, at: deps.clock.now() + (result.retryAfterMs ?? 0), reason: result.reason } };
  }
  if (failedBefore + 1 >= retry.maxAttempts) {
    return { ...base, next: { state: STATE.needsReview, reason: `gave up after ${failedBefore + 1} attempts; last error: ${result.reason}` } };
  }
  const delay = retry.delaysMs[Math.min(failedBefore, retry.delaysMs.length - 1)] as number;
  const at = deps.clock.now() + Math.max(delay, result.retryAfterMs ?? 0);
  return { ...base, next: { state: STATE.retrying, at, reason: result.reason } };
}
