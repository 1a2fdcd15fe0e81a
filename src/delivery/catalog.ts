import type Stripe from "stripe";
import type { MatchRule, Product } from "../config";
import type { CheckoutFacts } from "../stripe/stripe-source";
import type { InvoiceFacts } from "../stripe/invoices";

// The catalog's judgement of one charge: which products it paid for, or why it is none of the
// shop's business (an invoice no product is on, a subscription's renewal), or why the owner must
// look (a purchase the catalog does not know). Decided once per charge; the pass records it.

export const NO_PRODUCT = "no product matches this charge";
export const RENEWAL = "renewal";
export const notAProductSale = (invoice: string) => `not a product sale: invoice ${invoice}`;

/** Each looked up at most once per charge, and only when the judgement needs it. */
export interface PurchaseLookups {
  /** The Checkout Session (or Payment Link) behind the charge, or null. */
  checkout: () => Promise<CheckoutFacts | null>;
  /** The invoice the charge paid, or null. */
  invoice: () => Promise<InvoiceFacts | null>;
  /** Whether this invoice is its subscription's first paid with money (after the start line). */
  firstOfSubscription: (invoice: InvoiceFacts) => Promise<boolean>;
}

export type CheckoutLookup = PurchaseLookups["checkout"];

export type Judgement =
  | { kind: "products"; products: Product[] }
  | { kind: "skip"; reason: string }
  | { kind: "review"; reason: string };

interface LineItems {
  prices: readonly string[];
  products: readonly string[];
}

function metadataMatches(want: Record<string, string>, have: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

function onLineItems(rule: MatchRule): boolean {
  return rule.price !== undefined || rule.product !== undefined;
}

/** Every condition of the rule holds. Metadata is always the charge's own (Checkout copies it there). */
function ruleMatches(rule: MatchRule, charge: Stripe.Charge, lines: LineItems | null): boolean {
  if (rule.amount !== undefined && (charge.amount !== rule.amount || charge.currency.toLowerCase() !== rule.currency)) return false;
  if (rule.metadata && !metadataMatches(rule.metadata, (charge.metadata ?? {}) as Record<string, string>)) return false;
  if (onLineItems(rule)) {
    if (!lines) return false;
    if (rule.price !== undefined && !lines.prices.includes(rule.price)) return false;
    if (rule.product !== undefined && !lines.products.includes(rule.product)) return false;
  }
  return true;
}

/**
 * What a charge paid for, in file order. Line items decide when they match a product (every
 * product they match is bought: a cart of three gets all three); otherwise the charge's metadata
 * (the first product it matches); the amount rule only for a charge with no line items at all (no
 * Checkout Session, Payment Link or invoice): a purchase whose lines match nothing is never
 * matched by amount. An invoice no product is on is not a product sale; a subscription's product
 * comes with its first paid invoice, its renewals only with `"renewals": "deliver"`.
 *
 * Lookups in the order that costs least: the Checkout Session only when a product names a Price
 * or Product (or to tell whether lines exist at all), the invoice only when neither the session
 * nor the metadata settled it.
 */
export async function judgePurchase(products: readonly Product[], charge: Stripe.Charge, lookups: PurchaseLookups): Promise<Judgement> {
  const lineProducts = products.filter((p) => onLineItems(p.match));
  const bought = (lines: LineItems) => lineProducts.filter((p) => ruleMatches(p.match, charge, lines));
  let session: CheckoutFacts | null | undefined;
  if (lineProducts.length > 0) {
    session = await lookups.checkout();
    const onSession = session ? bought(session) : [];
    if (onSession.length > 0) return { kind: "products", products: onSession };
  }
  const byMetadata = products.find((p) => !onLineItems(p.match) && p.match.metadata && ruleMatches(p.match, charge, null));
  if (byMetadata) return { kind: "products", products: [byMetadata] };
  if (session === undefined) session = await lookups.checkout();
  // A Checkout or Payment Link sale of something the catalog lacks: the owner must hear of it.
  if (session) return { kind: "review", reason: NO_PRODUCT };

  const invoice = await lookups.invoice();
  if (invoice) return judgeInvoice(invoice, bought(invoice), lookups);

  const byAmount = products.find((p) => !onLineItems(p.match) && !p.match.metadata && ruleMatches(p.match, charge, null));
  return byAmount ? { kind: "products", products: [byAmount] } : { kind: "review", reason: NO_PRODUCT };
}

/** Products are tried before the renewal rule: a renewal no product is on is "not a product sale". */
async function judgeInvoice(invoice: InvoiceFacts, onInvoice: Product[], lookups: PurchaseLookups): Promise<Judgement> {
  if (onInvoice.length === 0) return { kind: "skip", reason: notAProductSale(invoice.id) };
  if (!invoice.subscription) return { kind: "products", products: onInvoice };
  const everyTime = onInvoice.filter((p) => p.renewals === "deliver");
  // Each product follows its own `renewals`; the subscription is asked about only when that matters.
  if (everyTime.length === onInvoice.length || (await lookups.firstOfSubscription(invoice))) return { kind: "products", products: onInvoice };
  return everyTime.length > 0 ? { kind: "products", products: everyTime } : { kind: "skip", reason: RENEWAL };
}

/** Caches one lookup so a charge costs at most one read of each kind. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}
