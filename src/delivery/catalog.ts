import type Stripe from "stripe";
import type { MatchRule, Product } from "../config";
import type { CheckoutFacts } from "../stripe/stripe-source";

/** Looked up at most once per charge, and only when a rule or a missing email needs it. */
export type CheckoutLookup = () => Promise<CheckoutFacts | null>;

function metadataMatches(want: Record<string, string>, have: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

function needsCheckout(rule: MatchRule): boolean {
  return rule.price !== undefined || rule.product !== undefined;
}

async function ruleMatches(rule: MatchRule, charge: Stripe.Charge, checkout: CheckoutLookup): Promise<boolean> {
  if (rule.amount !== undefined && (charge.amount !== rule.amount || charge.currency.toLowerCase() !== rule.currency)) return false;
  if (rule.metadata) {
    const chargeMeta = (charge.metadata ?? {}) as Record<string, string>;
    if (!metadataMatches(rule.metadata, chargeMeta)) {
      // Checkout copies its metadata to the session, not always to the charge.
      const facts = await checkout();
      if (!facts || !metadataMatches(rule.metadata, facts.metadata)) return false;
    }
  }
  if (needsCheckout(rule)) {
    const facts = await checkout();
    if (!facts) return false;
    if (rule.price !== undefined && !facts.prices.includes(rule.price)) return false;
    if (rule.product !== undefined && !facts.products.includes(rule.product)) return false;
  }
  return true;
}

/** Which evidence a rule rests on; a purchase's line items outrank its metadata, metadata outranks amount. */
function tier(rule: MatchRule): "line_items" | "metadata" | "amount" {
  if (needsCheckout(rule)) return "line_items";
  return rule.metadata ? "metadata" : "amount";
}

/**
 * The products a charge paid for, in file order. When the purchase has line items, every product
 * they match is bought (a cart of three catalog products gets all three); otherwise the first
 * product matched by metadata, else the first matched by amount (one payment of 19 USD is one
 * product, even when two products cost 19 USD).
 */
export async function findProducts(products: readonly Product[], charge: Stripe.Charge, checkout: CheckoutLookup): Promise<Product[]> {
  if (products.some((p) => tier(p.match) === "line_items")) {
    const facts = await checkout();
    if (facts && facts.prices.length > 0) {
      const bought: Product[] = [];
      for (const product of products) {
        if (tier(product.match) === "line_items" && (await ruleMatches(product.match, charge, checkout))) bought.push(product);
      }
      if (bought.length > 0) return bought;
    }
  }
  for (const wanted of ["metadata", "amount"] as const) {
    for (const product of products) {
      if (tier(product.match) === wanted && (await ruleMatches(product.match, charge, checkout))) return [product];
    }
  }
  return [];
}

/** Caches one lookup so a charge costs at most one session + line-items read. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}
