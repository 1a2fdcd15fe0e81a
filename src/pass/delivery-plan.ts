import path from "node:path";
import type Stripe from "stripe";
import { CheckoutLookup, judgePurchase, NO_PRODUCT, once } from "../delivery/catalog";
import { purchaseLookups } from "./purchase-lookups";
import type { Product } from "../config";
import { ChargeFacts, ChargeRow, DeliveryRow, IDEMPOTENCY_WINDOW_MS, PlannedDelivery } from "../ledger";
import type { PassDeps } from "./pass-deps";
import { buildPayload, ProductFileError, StoredPayload } from "../delivery/payload";
import { findRecipient } from "../delivery/recipient";
import { STATE } from "../states";
import { REJUDGEABLE } from "./eligibility";
import { DownloadVar, formatAmount, renderEmail } from "../delivery/templates";
import { downloadVars, LINK_PATH } from "../downloads/links";
import { licenseVar, LicenseVar } from "../licenses/issue";

// What a charge is to be sent: its products (one email each) with their rendered payloads, or
// the reason a human has to look at the charge as a whole (no product, no email).

export { NO_PRODUCT };
export const NO_EMAIL = "no customer email on the charge, its customer or its checkout session";

export interface Plan {
  facts: ChargeFacts;
  deliveries: PlannedDelivery[];
  /** The payloads rendered in this pass, by product: a claim that keeps one needs no re-parse. */
  rendered: Map<string, StoredPayload>;
}

/** `skip`: not the shop's sale (an invoice no product is on, a renewal); recorded as skipped. */
export type Planned = { kind: "plan"; plan: Plan } | { kind: "review"; reason: string } | { kind: "skip"; reason: string };

export function factsOf(charge: Stripe.Charge): ChargeFacts {
  return { id: charge.id, created: charge.created, amount: charge.amount, currency: charge.currency };
}

/**
 * A charge whose products are known (it has delivery rows and an address) is planned from the
 * ledger and the catalog alone: no Stripe lookups for a retry. Otherwise the catalog judges the
 * charge, its Checkout Session and its invoice. Under --dry-run nothing is written.
 */
export async function planDelivery(
  deps: PassDeps, charge: Stripe.Charge, row: ChargeRow | undefined, existing: readonly DeliveryRow[], startLine: number, dryRun: boolean,
): Promise<Planned> {
  if (row && row.email && existing.length > 0) {
    const facts = { ...factsOf(charge), email: row.email, name: row.name, product: row.product };
    const checkout = checkoutOf(deps, charge);
    const rendered = new Map<string, StoredPayload>();
    const now = deps.clock.now();
    const deliveries: PlannedDelivery[] = [];
    for (const d of existing) {
      if (d.state === STATE.delivered || d.state === STATE.resolved) continue;
      // A stored payload the claim will reuse needs no render (and no re-read of its files).
      const reusable = d.payload !== null && d.first_sent_at !== null && now - d.first_sent_at < IDEMPOTENCY_WINDOW_MS;
      const product = deps.config.products.find((p) => p.key === d.product);
      if (reusable) deliveries.push({ product: d.product, payload: d.payload });
      else if (!product) deliveries.push({ product: d.product, payload: null, reason: `product ${d.product} is no longer in the catalog` });
      else deliveries.push(await render(deps, charge, product, row.email, row.name, rendered, dryRun, checkout));
    }
    return { kind: "plan", plan: { facts, deliveries, rendered } };
  }

  const { config, stripe } = deps;
  const lookups = purchaseLookups(deps, charge, startLine);
  const judged = await judgePurchase(config.products, charge, lookups);
  if (judged.kind === "skip") {
    // Not the shop's sale: recorded once, with the reason, so no later pass looks it up again.
    if (!dryRun) await deps.ledger.recordState(factsOf(charge), STATE.skipped, { reason: judged.reason }, REJUDGEABLE, deps.clock.now());
    return judged;
  }
  const products = judged.kind === "products" ? judged.products : [];
  const recipient = await findRecipient(charge, stripe, lookups.checkout);
  const keys = products.map((p) => p.key).join(",") || null;
  const facts: ChargeFacts = { ...factsOf(charge), email: recipient.email, name: recipient.name, product: keys };
  const review = async (reason: string): Promise<Planned> => {
    if (!dryRun) await deps.ledger.recordState(facts, STATE.needsReview, { reason }, [STATE.awaitingPayment, STATE.retrying, STATE.needsReview], deps.clock.now());
    return { kind: "review", reason };
  };
  if (judged.kind === "review") return review(judged.reason);
  if (!recipient.email) return review(NO_EMAIL);
  const email = recipient.email;
  const rendered = new Map<string, StoredPayload>();
  const deliveries: PlannedDelivery[] = [];
  for (const p of products) deliveries.push(await render(deps, charge, p, email, recipient.name, rendered, dryRun, lookups.checkout));
  return { kind: "plan", plan: { facts, deliveries, rendered } };
}

/** The charge's Checkout Session facts, looked up at most once and only when asked. */
function checkoutOf(deps: PassDeps, charge: Stripe.Charge): CheckoutLookup {
  const paymentIntent = typeof charge.payment_intent === "string" ? charge.payment_intent : (charge.payment_intent?.id ?? null);
  return once(async () => (paymentIntent ? deps.stripe.checkoutFacts(paymentIntent) : null));
}

async function render(
  deps: PassDeps, charge: Stripe.Charge, product: Product, email: string, name: string | null, out: Map<string, StoredPayload>, dryRun: boolean,
  checkout: CheckoutLookup,
): Promise<PlannedDelivery> {
  const rendered = renderEmail(product, {
    name: name ?? "",
    email,
    product: product.name,
    charge: charge.id,
    amount: formatAmount(charge.amount, charge.currency),
    links: product.links,
    downloads: await downloadsFor(deps, charge.id, product, dryRun),
    license: await licenseFor(deps, charge, product, dryRun, checkout),
  });
  try {
    const payload: StoredPayload = buildPayload(product, rendered, email, deps.config.from, deps.config.replyTo);
    out.set(product.key, payload);
    return { product: product.key, payload: JSON.stringify(payload) };
  } catch (err) {
    if (err instanceof ProductFileError) return { product: product.key, payload: null, reason: err.message, blockedOnFile: err.file };
    throw err;
  }
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

/**
 * The purchase's license key, stored before the email is rendered (see licenses/issue.ts). Its
 * activation limit is `activations` × the quantity of the product's line item.
 */
async function licenseFor(deps: PassDeps, charge: Stripe.Charge, product: Product, dryRun: boolean, checkout: CheckoutLookup): Promise<LicenseVar | undefined> {
  const { license } = product;
  if (!license) return undefined;
  if (dryRun) return { key: "(made when sent)", activations: license.activations, expires: license.expiresAfterMs === null ? "never" : "(when sent)" };
  const existing = await deps.ledger.licenseOf(charge.id, product.key);
  const quantity = existing ? 1 : await lineItemQuantity(product, checkout);
  const customerId = typeof charge.customer === "string" ? charge.customer : (charge.customer?.id ?? null);
  return licenseVar(deps.ledger, { charge: charge.id, product: product.key, license, quantity, customerId }, deps.clock.now());
}

/** How many units of the product the purchase's line items hold (1 without line items). */
export async function lineItemQuantity(product: Product, checkout: CheckoutLookup): Promise<number> {
  const ids = [product.match.price, product.match.product].filter((id): id is string => id !== undefined);
  if (ids.length === 0) return 1;
  const facts = await checkout();
  for (const id of ids) {
    const q = facts?.quantities[id];
    if (q !== undefined && q > 0) return q;
  }
  return 1;
}
