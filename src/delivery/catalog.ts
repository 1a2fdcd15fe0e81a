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

/** The first product of the catalog, in file order, whose every rule holds for the charge. */
export async function findProduct(products: readonly Product[], charge: Stripe.Charge, checkout: CheckoutLookup): Promise<Product | null> {
  for (const product of products) {
    if (await ruleMatches(product.match, charge, checkout)) return product;
  }
  return null;
}

/** Caches one lookup so a charge costs at most one session + line-items read. */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}
