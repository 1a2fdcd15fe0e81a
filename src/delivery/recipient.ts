import type Stripe from "stripe";
import type { CheckoutLookup } from "./catalog";
import type { StripeSource } from "../stripe/stripe-source";

export interface Recipient {
  email: string | null;
  name: string | null;
}

/**
 * The buyer's address, from the first place that has one: the charge's billing details, its
 * receipt email, the customer, then the Checkout Session's customer_details (customer_email
 * there is only the prefill, so it is not used).
 */
export async function findRecipient(charge: Stripe.Charge, stripe: StripeSource, checkout: CheckoutLookup): Promise<Recipient> {
  let name = charge.billing_details?.name ?? null;
  const direct = charge.billing_details?.email ?? charge.receipt_email ?? null;
  if (direct) return { email: direct, name };
  const customerId = typeof charge.customer === "string" ? charge.customer : (charge.customer?.id ?? null);
  if (customerId) {
    const customer = await stripe.customerContact(customerId);
    name ??= customer.name;
    if (customer.email) return { email: customer.email, name };
  }
  const facts = await checkout();
  return { email: facts?.email ?? null, name: name ?? facts?.name ?? null };
}
