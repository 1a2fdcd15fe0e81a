import type Stripe from "stripe";

// What paidup reads from an invoice: since API 2025-03-31 (basil) a charge no longer names its
// invoice, so the invoice is found through its invoice payment (stripe-source.ts), and its lines
// carry the Price and Product at `pricing.price_details`.

export interface InvoiceFacts {
  id: string;
  prices: string[];
  products: string[];
  /** `subscription_create` for a subscription's first invoice, `subscription_cycle` for renewals, `manual`… */
  billingReason: string | null;
  /** The subscription that made it, or null (an invoice sent from the dashboard). */
  subscription: string | null;
  amountPaid: number;
  created: number;
  email: string | null;
  name: string | null;
}

export function invoiceFacts(invoice: Stripe.Invoice, lines: readonly Stripe.InvoiceLineItem[]): InvoiceFacts {
  const prices: string[] = [];
  const products: string[] = [];
  for (const line of lines) {
    const details = line.pricing?.price_details;
    if (!details) continue;
    prices.push(typeof details.price === "string" ? details.price : details.price.id);
    products.push(details.product);
  }
  const sub = invoice.parent?.subscription_details?.subscription ?? null;
  return {
    id: invoice.id,
    prices,
    products,
    billingReason: invoice.billing_reason ?? null,
    subscription: typeof sub === "string" || sub === null ? sub : sub.id,
    amountPaid: invoice.amount_paid,
    created: invoice.created,
    email: invoice.customer_email ?? null,
    name: invoice.customer_name ?? null,
  };
}

/**
 * Whether an earlier invoice of the same subscription was paid with money: then `invoice` is a
 * renewal. A free trial's $0 first invoice does not count, so its first paid renewal is "first".
 */
export function paidBefore(invoice: InvoiceFacts, others: readonly Stripe.Invoice[]): boolean {
  return others.some((o) =>
    o.id !== invoice.id && o.amount_paid > 0 &&
    // Same second: Stripe's created has one-second resolution; the subscription's own first invoice goes first.
    (o.created < invoice.created || (o.created === invoice.created && o.billing_reason === "subscription_create")));
}
