// The ledger states. These exact strings are stored in SQLite and appear in the contract's JSON.
export const STATE = Object.freeze({
  awaitingPayment: "awaiting_payment",
  sending: "sending",
  delivered: "delivered",
  retrying: "retrying",
  needsReview: "needs_review",
  skipped: "skipped",
  resolved: "resolved",
  /** Resend accepted the email, then reported it bounced, failed or suppressed: stuck. */
  bounced: "bounced",
} as const);

export type LedgerState = (typeof STATE)[keyof typeof STATE];

/** A paid charge with no ledger row at all (only ever reported, never stored). */
export const MISSING = "missing";

/** States that end a charge's story: a pass never touches them again on its own. */
export const FINAL_STATES: readonly LedgerState[] = Object.freeze([
  STATE.delivered,
  STATE.resolved,
  STATE.skipped,
]);

/** Attempt outcomes, appended to the attempts history. */
export const OUTCOME = Object.freeze({
  delivered: "delivered",
  failed: "failed",
  unknown: "unknown",
  retryRequested: "retry_requested",
  resolved: "resolved",
} as const);
