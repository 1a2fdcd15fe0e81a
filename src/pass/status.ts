import type { Thresholds } from "../thresholds";
import { judge } from "./eligibility";
import type { Ledger } from "../ledger";
import { isoMs } from "../duration";
import type { AfterDeliveryEvent } from "../ledger";
import { passHealth, PassHealth } from "./pass-record";
import { missingEntry, StuckEntry, stuckEntry } from "./report";
import type { StripeSource } from "../stripe/stripe-source";

/**
 * How far before the watermark `status` re-lists Stripe looking for paid charges without a row.
 * Below the watermark every charge should have a row; re-checking the last hour of that claim
 * catches a charge a pass stepped over (a late listing, a bug) while the buyer is still waiting,
 * for the price of a page or two of listing.
 */
export const MISSING_RECHECK_S = 3600;

/** The contract's `status --json` object. */
export interface StatusReport {
  ok: boolean;
  lastPass: PassHealth["lastPass"];
  stuck: StuckEntry[];
  /** Delivered, then refunded or disputed (last 30 days): not stuck, never changes `ok`. */
  afterDelivery: AfterDeliveryEntry[];
}

export interface AfterDeliveryEntry {
  charge: string;
  event: AfterDeliveryEvent;
  at: string;
  downloads: number;
}

const AFTER_DELIVERY_DAYS_MS = 30 * 86_400_000;

async function afterDelivery(ledger: Ledger, now: number): Promise<AfterDeliveryEntry[]> {
  let rows;
  try {
    rows = await ledger.afterDeliverySince(now - AFTER_DELIVERY_DAYS_MS);
  } catch (err) {
    // A ledger not yet migrated (status opens it read-only) has no such table: nothing to list.
    if (/no such table/.test(String(err))) return [];
    throw err;
  }
  return rows.map((r) => ({ charge: r.charge_id, event: r.event, at: isoMs(r.at), downloads: r.downloads }));
}

/** Everything stuck, and the health of the last pass. Reads only; `stripe` null = --offline. */
export async function collectStatus(ledger: Ledger, stripe: StripeSource | null, config: Thresholds, now: number): Promise<StatusReport> {
  const olderThan = now - config.stuckAfterMs;
  const stuck = (await ledger.stuck(olderThan)).map(stuckEntry);
  if (stripe) stuck.push(...(await missingCharges(ledger, stripe, olderThan)));
  stuck.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  const { lastPass } = await passHealth(ledger, config.staleAfterMs, now);
  // A single failed pass is not yet an alarm: staleness (no success for staleAfter) is.
  return { ok: lastPass !== null && !lastPass.stale && stuck.length === 0, lastPass, stuck, afterDelivery: await afterDelivery(ledger, now) };
}

/** Eligible charges in Stripe, older than stuckAfter, that no pass has recorded. */
async function missingCharges(ledger: Ledger, stripe: StripeSource, olderThanMs: number): Promise<StuckEntry[]> {
  const startLine = Number(await ledger.getMeta("start_line"));
  const watermark = Number((await ledger.getMeta("watermark")) ?? startLine);
  const gte = Math.max(startLine, watermark - MISSING_RECHECK_S);
  const lte = Math.floor(olderThanMs / 1000);
  if (lte < gte) return [];
  const missing: StuckEntry[] = [];
  for await (const charge of stripe.listCharges({ gte, lte })) {
    if (judge(charge, startLine).kind !== "eligible" || (await ledger.getState(charge.id)) !== undefined) continue;
    const email = charge.billing_details?.email ?? charge.receipt_email ?? null;
    missing.push(missingEntry({ id: charge.id, amount: charge.amount, currency: charge.currency, created: charge.created, email }));
  }
  return missing;
}
