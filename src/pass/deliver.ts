import path from "node:path";
import type Stripe from "stripe";
import { findProduct, once } from "../delivery/catalog";
import { UsageError } from "../errors";
import { judge, REJUDGEABLE } from "./eligibility";
import { ChargeFacts, ChargeRow, FailedSend, UNKNOWN_OUTCOME_REASON } from "../ledger";
import { idempotencyKey } from "../delivery/mailer";
import type { PassDeps } from "./pass-deps";
import { buildPayload, checkAttachments, ProductFileError, StoredPayload, toSendable } from "../delivery/payload";
import { findRecipient } from "../delivery/recipient";
import { failureClass, SendResult } from "../delivery/send-result";
import { LedgerState, STATE } from "../states";
import { DownloadVar, formatAmount, renderEmail } from "../delivery/templates";
import type { Product } from "../config";
import { downloadVars, LINK_PATH } from "../downloads/links";
import { noticeAfterDelivery } from "./after-delivery";

/** How one charge ended in this pass. `busy`: another process holds it, or its retry is not due. */
export type ChargeOutcome =
  | { kind: "delivered"; emailId: string }
  | { kind: "already_delivered" }
  | { kind: "stopped" }
  | { kind: "busy" }
  | { kind: "would_deliver"; email: string; product: string }
  | { kind: "left"; state: LedgerState; reason: string | null };

const NO_PRODUCT = "no product matches this charge";
const NO_EMAIL = "no customer email on the charge, its customer or its checkout session";

function factsOf(charge: Stripe.Charge): ChargeFacts {
  return { id: charge.id, created: charge.created, amount: charge.amount, currency: charge.currency };
}

function left(state: LedgerState, reason: string | null): ChargeOutcome {
  return { kind: "left", state, reason };
}

/**
 * The one path by which a charge is delivered, shared by the pass and the webhook:
 * judge → match → claim (transaction) → send (outside any transaction) → commit (transaction).
 */
export async function deliverCharge(deps: PassDeps, charge: Stripe.Charge, startLine: number, dryRun = false): Promise<ChargeOutcome> {
  const { ledger, clock } = deps;
  const row = await ledger.getCharge(charge.id);
  if (row?.state === STATE.delivered || row?.state === STATE.resolved) {
    // A refund or dispute after delivery revokes the buyer's download links.
    if (!dryRun && (charge.refunded || charge.disputed)) await noticeAfterDelivery(deps, charge);
    return { kind: "already_delivered" };
  }
  if (row?.state === STATE.skipped) return left(STATE.skipped, row.reason);

  const verdict = judge(charge, startLine);
  if (verdict.kind !== "eligible") {
    if (row?.state === STATE.sending) {
      // A claim whose holder died, on a charge refunded meanwhile: not re-sent.
      if (dryRun || !(await ledger.abandonExpiredClaim(charge.id, verdict.state, verdict.reason, clock.now()))) return { kind: "busy" };
      return left(verdict.state, verdict.reason);
    }
    if (!dryRun) await ledger.recordState(factsOf(charge), verdict.state, { reason: verdict.reason }, REJUDGEABLE, clock.now());
    return left(verdict.state, verdict.reason);
  }
  const now = clock.now();
  if (row?.state === STATE.sending && (row.lease_until ?? 0) >= now) return { kind: "busy" };
  if (row?.state === STATE.retrying && (row.next_attempt_at ?? 0) > now) return left(STATE.retrying, row.reason);
  if (row?.state === STATE.needsReview && !fileNowReady(row)) return left(STATE.needsReview, row.reason);

  // A charge sent before keeps its first payload: a re-send must be byte-identical.
  const prepared = row?.payload ? { facts: factsOf(charge), payload: JSON.parse(row.payload) as StoredPayload } : await prepare(deps, charge, dryRun);
  if ("state" in prepared) return prepared.outcome;
  if (dryRun) return { kind: "would_deliver", email: prepared.payload.to, product: prepared.facts.product ?? row?.product ?? "?" };
  if (!deps.mailer) throw new Error("deliverCharge needs a mailer outside --dry-run");

  if (row?.state === STATE.needsReview) {
    // The operator staged the missing file: back in line, once.
    await ledger.recordState(prepared.facts, STATE.retrying, { reason: "product file now present", nextAttemptAt: now }, [STATE.needsReview], now);
  }
  await deps.mailer.waitTurn(deps.signal);
  if (deps.signal?.aborted) return { kind: "stopped" };

  const payloadJson = JSON.stringify(prepared.payload);
  const claimed = await ledger.claim(prepared.facts, deps.owner, payloadJson, clock.now());
  if (claimed.kind === "outcome_unknown") return left(STATE.needsReview, UNKNOWN_OUTCOME_REASON);
  if (claimed.kind === "not_claimable") {
    // Another process got there between our read and our claim: its outcome stands.
    const s = claimed.row.state;
    if (s === STATE.delivered || s === STATE.resolved) return { kind: "already_delivered" };
    return s === STATE.sending ? { kind: "busy" } : left(s, claimed.row.reason);
  }

  let result: SendResult;
  try {
    // The stored payload is what gets sent; parsed again only when it is an earlier claim's.
    const stored = claimed.payload === payloadJson ? prepared.payload : (JSON.parse(claimed.payload) as StoredPayload);
    result = await deps.mailer.send(toSendable(stored), idempotencyKey(charge.id));
  } catch (err) {
    if (!(err instanceof ProductFileError)) throw err;
    result = { ok: false, retryable: false, outcomeUnknown: false, reason: err.message };
  }
  if (result.ok) {
    await ledger.commitDelivered(charge.id, result.emailId, clock.now());
    deps.metrics?.deliveries.inc();
    deps.log.info("delivered", { charge: charge.id, emailId: result.emailId });
    return { kind: "delivered", emailId: result.emailId };
  }
  const failure = await nextAfterFailure(deps, charge.id, result);
  await ledger.commitFailure(charge.id, deps.owner, failure, clock.now());
  deps.metrics?.sendFailures.inc({ class: failureClass(result) });
  deps.log.warn("send failed", { charge: charge.id, error: result.reason, next: failure.next.state });
  if (result.keyRejected) throw new UsageError(result.reason, "fix RESEND_API_KEY; the charge was put back in line");
  return left(failure.next.state, failure.next.reason);
}

type Prepared = { facts: ChargeFacts; payload: StoredPayload } | { state: LedgerState; outcome: ChargeOutcome };

/** Product, recipient and rendered payload; or the reason a human has to look. */
async function prepare(deps: PassDeps, charge: Stripe.Charge, dryRun: boolean): Promise<Prepared> {
  const { config, stripe } = deps;
  const paymentIntent = typeof charge.payment_intent === "string" ? charge.payment_intent : (charge.payment_intent?.id ?? null);
  const checkout = once(async () => (paymentIntent ? stripe.checkoutFacts(paymentIntent) : null));
  const product = await findProduct(config.products, charge, checkout);
  const recipient = await findRecipient(charge, stripe, checkout);
  const facts: ChargeFacts = { ...factsOf(charge), email: recipient.email, name: recipient.name, product: product?.key ?? null };
  const review = async (reason: string, blockedOnFile?: string): Promise<Prepared> => {
    if (!dryRun) await deps.ledger.recordState(facts, STATE.needsReview, { reason, blockedOnFile }, [STATE.awaitingPayment, STATE.retrying, STATE.needsReview], deps.clock.now());
    return { state: STATE.needsReview, outcome: left(STATE.needsReview, reason) };
  };
  if (!product) return review(NO_PRODUCT);
  if (!recipient.email) return review(NO_EMAIL);
  const rendered = renderEmail(product, {
    name: recipient.name ?? "",
    email: recipient.email,
    product: product.name,
    charge: charge.id,
    amount: formatAmount(charge.amount, charge.currency),
    links: product.links,
    downloads: await downloadsFor(deps, charge.id, product, dryRun),
  });
  try {
    return { facts, payload: buildPayload(product, rendered, recipient.email, config.from, config.replyTo) };
  } catch (err) {
    if (err instanceof ProductFileError) return review(err.message, err.file);
    throw err;
  }
}

function fileNowReady(row: ChargeRow): boolean {
  if (!row.blocked_on_file) return false;
  try {
    checkAttachments([row.blocked_on_file]);
    return true;
  } catch {
    return false;
  }
}

async function nextAfterFailure(deps: PassDeps, chargeId: string, result: Extract<SendResult, { ok: false }>): Promise<FailedSend> {
  const { retry } = deps.config;
  const failedBefore = (await deps.ledger.getCharge(chargeId))?.failed_sends ?? 0;
  const base = { error: result.reason, outcomeUnknown: result.outcomeUnknown };
  if (!result.retryable) return { ...base, next: { state: STATE.needsReview, reason: result.reason } };
  if (failedBefore + 1 >= retry.maxAttempts) {
    return { ...base, next: { state: STATE.needsReview, reason: `gave up after ${failedBefore + 1} attempts; last error: ${result.reason}` } };
  }
  const delay = retry.delaysMs[Math.min(failedBefore, retry.delaysMs.length - 1)] as number;
  const at = deps.clock.now() + Math.max(delay, result.retryAfterMs ?? 0);
  return { ...base, next: { state: STATE.retrying, at, reason: result.reason } };
}

/**
 * The first email's links, stored before it is rendered: a repeat of the send (after a crash)
 * finds them and renders byte for byte the same. A dry run shows where they would go.
 */
async function downloadsFor(deps: PassDeps, chargeId: string, product: Product, dryRun: boolean): Promise<DownloadVar[] | undefined> {
  const { downloads } = product;
  const publicUrl = deps.config.publicUrl;
  if (!downloads || !publicUrl) return undefined;
  if (dryRun) return downloads.files.map((f) => ({ name: path.basename(f), url: `${publicUrl}${LINK_PATH}(made when sent)`, expires: "(when sent)" }));
  return downloadVars(deps.ledger, { publicUrl, charge: chargeId, product: product.key, downloads, source: "send" }, deps.clock.now());
}
