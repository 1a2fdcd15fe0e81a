import type Stripe from "stripe";
import { LedgerState, STATE } from "../states";

export type Verdict =
  | { kind: "eligible" }
  | { kind: "wait"; state: typeof STATE.awaitingPayment; reason: string }
  | { kind: "skip"; state: typeof STATE.skipped; reason: string };

/** Whether a charge, as Stripe has it now, should be delivered. */
export function judge(charge: Stripe.Charge, startLine: number): Verdict {
  if (charge.created < startLine) return skip("created before the start line");
  if (charge.status === "failed") return skip("payment failed");
  // Checked before `pending`: a refund or dispute settles the question whatever the status.
  if (charge.refunded) return skip("refunded before delivery");
  if (charge.disputed) return skip("disputed before delivery");
  if (charge.status === "pending") return wait("payment pending (e.g. a bank debit that settles later)");
  // `paid` is also true for an authorisation not yet captured: that money is not ours yet.
  if (!charge.paid) return wait("not paid yet");
  if (!charge.captured) return wait("authorised, not captured yet");
  if (charge.status !== "succeeded") return wait(`status ${String(charge.status)}`);
  return { kind: "eligible" };
}

function skip(reason: string): Verdict {
  return { kind: "skip", state: STATE.skipped, reason };
}

function wait(reason: string): Verdict {
  return { kind: "wait", state: STATE.awaitingPayment, reason };
}

/** States a fresh verdict may move an existing row out of (never a final one, never a live claim). */
export const REJUDGEABLE: readonly LedgerState[] = [STATE.awaitingPayment, STATE.retrying, STATE.needsReview];
