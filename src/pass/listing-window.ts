// Which stretch of Stripe's charge list a pass walks. Every bound here is on Stripe's clock
// (`created`, the `Date` of its answers), never the host's: a host clock minutes or hours off
// must not make a pass step over a charge.

/**
 * Charges become visible in Stripe's list a moment after their `created` second: each pass
 * re-lists this much before the watermark, so one listed a little late is not stepped over.
 */
export const LISTING_OVERLAP_S = 120;

/**
 * Stripe may list a charge much later than its `created` second (rarely; its webhooks are retried
 * for the same 72 hours). A slow, periodic re-list of this much history catches such a charge.
 */
export const RELIST_BACK_S = 72 * 3600;

/** How often that deep re-list runs (recorded in the ledger, so every process and host agrees). */
export const RELIST_EVERY_S = 3600;

/**
 * Where a pass starts listing: the overlap before the watermark, or earlier if `--since` asks
 * for it. `--since` only ever widens a pass: a narrower window would step over charges below the
 * watermark that no pass has listed yet. Never before the start line.
 */
export function listingStart(w: { startLine: number; watermark: number; since?: number }): number {
  return Math.max(w.startLine, Math.min(w.watermark - LISTING_OVERLAP_S, w.since ?? Infinity));
}

/**
 * The older stretch a deep re-list walks, below `listFrom`: the last 72 hours on Stripe's clock,
 * never before the start line (empty when `listFrom` already reaches that far back). Null when
 * the last deep re-list is less than an hour old on Stripe's clock.
 */
export function relistWindow(w: { startLine: number; listFrom: number; stripeNow: number; lastRelist: number | null }): { gte: number; lt: number } | null {
  const age = w.lastRelist === null ? Infinity : w.stripeNow - w.lastRelist;
  // A record from the future (a clock that jumped back) makes it due rather than silent for hours.
  if (age >= 0 && age < RELIST_EVERY_S) return null;
  return { gte: Math.max(w.startLine, w.stripeNow - RELIST_BACK_S), lt: w.listFrom };
}
