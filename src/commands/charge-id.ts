import { UsageError } from "../errors";
import type { StripeSource } from "../stripe/stripe-source";

// Operators paste whatever id the Stripe dashboard shows them first, often the PaymentIntent
// (pi_…) of a payment. The ledger is keyed by the charge (ch_… or py_…).

const CHARGE_ID = /^(ch|py)_/;

/** A helpful refusal for an id that is not a charge's, or null when it looks like one. */
export function notAChargeId(id: string): UsageError | null {
  if (CHARGE_ID.test(id)) return null;
  if (id.startsWith("pi_")) {
    return new UsageError(
      `${id} is a PaymentIntent id; paidup knows charges by their charge id (ch_…)`,
      "the Stripe dashboard shows the charge id under the payment's details (Latest charge); `paidup show` also looks it up when STRIPE_SECRET_KEY is set",
    );
  }
  return null;
}

/** pi_… becomes the PaymentIntent's latest charge, asked of Stripe; any other id is returned as is. */
export async function chargeIdFor(id: string, stripe: StripeSource | null): Promise<{ chargeId: string; via?: string }> {
  if (!id.startsWith("pi_")) return { chargeId: id };
  if (!stripe) throw notAChargeId(id) as UsageError;
  let latest: string | null;
  try {
    latest = await stripe.latestChargeOfPaymentIntent(id);
  } catch (err) {
    // Unknown to Stripe is the operator's typo (exit 2); unreachable stays a runtime failure.
    if (err instanceof Error && /\(HTTP 404\)/.test(err.message)) throw new UsageError(`Stripe knows no PaymentIntent ${id}`, "check the id; `paidup status` lists the stuck charges");
    throw err;
  }
  if (!latest) throw new UsageError(`Stripe has no charge for the PaymentIntent ${id}`, "a PaymentIntent without a charge was never paid; `paidup status` lists the stuck charges");
  return { chargeId: latest, via: id };
}
