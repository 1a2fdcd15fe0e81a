import type Stripe from "stripe";
import type { Ledger } from "../ledger";
import type { StripeSource } from "../stripe/stripe-source";
import { judgePurchase } from "../delivery/catalog";
import { ignoredBy } from "../delivery/ignore";
import { judge } from "./eligibility";
import { RELIST_BACK_S } from "./listing-window";
import { purchaseLookups } from "./purchase-lookups";
import { missingEntry, StuckEntry } from "./report";
import type { CatalogLoader } from "./status";

// `status` with a Stripe key, and `show`: charges Stripe has that no pass has recorded, judged
// as a pass would judge them.

/**
 * Eligible charges in Stripe, older than stuckAfter, that no pass has recorded. The look-back is
 * fixed (the 72 hours the passes' deep re-list covers), not tied to the watermark: a charge listed
 * late stays visible here until a pass takes it in, however far the passes have moved on.
 */
export async function missingCharges(ledger: Ledger, stripe: StripeSource, now: number, stuckAfterMs: number, loadCatalog: CatalogLoader): Promise<StuckEntry[]> {
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
