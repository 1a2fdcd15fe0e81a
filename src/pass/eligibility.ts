import type Stripe from "stripe";
import { LedgerState, STATE } from "../states";
import type { DisputeOutcome } from "../stripe/stripe-source";

export type Verdict =
  | { kind: "eligible" }
  | { kind: "wait"; state: typeof STATE.awaitingPayment; reason: string }
  | { kind: "skip"; state: typeof STATE.skipped; reason: string };


/** The reasons a charge is skipped that a later look may overturn, stored as the row's reason. */
export const SKIP_REASON = Object.freeze({
  beforeStartLine: "created before the start line",
  disputed: "disputed before delivery",
  disputeLost: "disputed before delivery; the dispute was lost",
});

/**
 * Skipped rows that are judged again when seen: the start line may move earlier (`init --since`),
 * and a dispute may be won. Every other skip (refunded, failed, a lost dispute) is final.
 */
export const REOPENABLE_SKIPS: readonly string[] = [SKIP_REASON.beforeStartLine, SKIP_REASON.disputed];

/** Whether a charge, as Stripe has it now, should be delivered. `dispute`: asked only when disputed. */
export function judge(charge: Stripe.Charge, startLine: number, dispute: DisputeOutcome = "open"): Verdict {
  if (charge.created < startLine) return skip(SKIP_REASON.beforeStartLine);
  if (charge.status === "failed") return skip("payment failed");
  // Checked before `pending`: a refund or dispute settles the question whatever the status.
  if (charge.refunded) return skip("refunded before delivery");
  if (charge.disputed && dispute !== "won") return skip(dispute === "lost" ? SKIP_REASON.disputeLost : SKIP_REASON.disputed);
  if (charge.status === "pending") return wait("payment pending (e.g. a bank debit that settles later)");
  // `paid` is also true for an authorisation not yet captured: that money is not ours yet.
  if (!charge.paid) return wait("not paid yet");
  if (!charge.captured) return wait("authorised, not captured yet");
  if (charge.status !== "succeeded") return wait(`status ${String(charge.status)}`);
  return { kind: "eligible" };
}

/** A charge one of the owner's `ignore` rules matches: skipped for good, whatever its status. */
export function ignoredVerdict(reason: string): Verdict {
  return skip(reason);
}

/** Whether judging this charge needs its disputes' outcome (one Stripe request). */
export function needsDisputeOutcome(charge: Stripe.Charge, startLine: number): boolean {
  return charge.disputed && !charge.refunded && charge.status !== "failed" && charge.created >= startLine;
}

function skip(reason: string): Verdict {
  return { kind: "skip", state: STATE.skipped, reason };
}

function wait(reason: string): Verdict {
  return { kind: "wait", state: STATE.awaitingPayment, reason };
}

/** States a fresh verdict may move an existing row out of (never a final one, never a live claim). */
export const REJUDGEABLE: readonly LedgerState[] = [STATE.awaitingPayment, STATE.retrying, STATE.needsReview];
