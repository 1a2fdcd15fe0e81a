import type Stripe from "stripe";
import type { Thresholds } from "../thresholds";
import { judge } from "./eligibility";
import type { Ledger } from "../ledger";
import { isoMs } from "../duration";
import type { AfterDeliveryEvent } from "../ledger";
import { RELIST_BACK_S } from "./listing-window";
import { passHealth, PassHealth } from "./pass-record";
import { missingEntry, StuckEntry, stuckEntry } from "./report";
import type { StripeSource } from "../stripe/stripe-source";
import type { Config } from "../config";
import { judgePurchase } from "../delivery/catalog";
import { ignoredBy } from "../delivery/ignore";
import { purchaseLookups } from "./purchase-lookups";

/**
 * The catalog, loaded only when a charge without a row needs judging (status starts without zod
 * otherwise); null when the config cannot be loaded: such charges are then reported as missing.
 */
export type CatalogLoader = () => Promise<Pick<Config, "products" | "ignore"> | null>;

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
    if (/no such table|does not exist/.test(String(err))) return [];
    throw err;
  }
  return rows.map((r) => ({ charge: r.charge_id, event: r.event, at: isoMs(r.at), downloads: r.downloads }));
}

/** Everything stuck, and the health of the last pass. Reads only; `stripe` null = --offline. */
export async function collectStatus(ledger: Ledger, stripe: StripeSource | null, config: Thresholds, now: number, catalog: CatalogLoader = async () => null): Promise<StatusReport> {
  const olderThan = now - config.stuckAfterMs;
  const stuck = (await ledger.stuck(olderThan)).map(stuckEntry);
  if (stripe) stuck.push(...(await missingCharges(ledger, stripe, now, config.stuckAfterMs, catalog)));
  stuck.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  const { lastPass } = await passHealth(ledger, config.staleAfterMs, now);
  // A single failed pass is not yet an alarm: staleness (no success for staleAfter) is.
  return { ok: lastPass !== null && !lastPass.stale && stuck.length === 0, lastPass, stuck, afterDelivery: await afterDelivery(ledger, now) };
}

/**
 * Eligible charges in Stripe, older than stuckAfter, that no pass has recorded. The look-back is
 * fixed (the 72 hours the passes' deep re-list covers), not tied to the watermark: a charge listed
 * late stays visible here until a pass takes it in, however far the passes have moved on.
 */
async function missingCharges(ledger: Ledger, stripe: StripeSource, now: number, stuckAfterMs: number, loadCatalog: CatalogLoader): Promise<StuckEntry[]> {
  const startLine = Number(await ledger.getMeta("start_line"));
  const hostNow = Math.floor(now / 1000);
  const listing = stripe.listCharges({ gte: Math.max(startLine, hostNow - RELIST_BACK_S) });
  const missing: StuckEntry[] = [];
  for await (const charge of listing) {
    // "Older than stuckAfter" on Stripe's clock (the Date of its first page), as `created` is.
    if (charge.created > (listing.stripeNow ?? hostNow) - Math.floor(stuckAfterMs / 1000)) continue;
    if (judge(charge, startLine).kind !== "eligible" || (await ledger.getState(charge.id)) !== undefined) continue;
    if ((await notTheShops(charge, stripe, startLine, loadCatalog)) !== null) continue;
    const email = charge.billing_details?.email ?? charge.receipt_email ?? null;
    missing.push(missingEntry({ id: charge.id, amount: charge.amount, currency: charge.currency, created: charge.created, email }));
  }
  return missing;
}

/**
 * Judged as a pass would judge it: the skip reason when an ignore rule or the catalog says the
 * charge is not the shop's (an invoice no product is on, a renewal), else null (a pass would
 * deliver it or send it to review: with no row, it is missing).
 */
export async function notTheShops(charge: Stripe.Charge, stripe: StripeSource, startLine: number, loadCatalog: CatalogLoader): Promise<string | null> {
  const catalog = await loadCatalog();
  if (!catalog) return null;
  const ignored = ignoredBy(catalog.ignore, charge);
  if (ignored) return ignored;
  const judged = await judgePurchase(catalog.products, charge, purchaseLookups({ stripe }, charge, startLine));
  return judged.kind === "skip" ? judged.reason : null;
}
