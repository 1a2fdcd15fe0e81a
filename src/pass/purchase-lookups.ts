import type Stripe from "stripe";
import { once, PurchaseLookups } from "../delivery/catalog";
import type { StripeSource } from "../stripe/stripe-source";

// Kept apart from delivery-plan.ts (templates, payloads, links): `status` judges charges with no
// row through these without loading what a send needs.

/** The charge's Checkout Session, invoice and subscription, each read at most once and only if asked. */
export function purchaseLookups(deps: { stripe: StripeSource }, charge: Stripe.Charge, startLine: number): PurchaseLookups {
  const paymentIntent = typeof charge.payment_intent === "string" ? charge.payment_intent : (charge.payment_intent?.id ?? null);
  return {
    checkout: once(async () => (paymentIntent ? deps.stripe.checkoutFacts(paymentIntent) : null)),
    // A charge made without a PaymentIntent (the old Charges API) has paid no invoice since 2019.
    invoice: once(async () => (paymentIntent ? deps.stripe.invoiceOf(paymentIntent) : null)),
    firstOfSubscription: (invoice) => deps.stripe.isFirstPaidInvoice(invoice, startLine),
  };
}
