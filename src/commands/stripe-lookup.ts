import type Stripe from "stripe";
import { Env, requireStripeKey } from "../config";
import { UsageError } from "../errors";
import type { ChargeFacts } from "../ledger";
import { StripeSource, stripeClient } from "../stripe/stripe-source";

// `show`, `retry` and `resolve` on a charge the ledger has no row for: `status` reports a paid
// charge no pass has recorded (Stripe listed it late) as `missing` and suggests these commands,
// so they look it up in Stripe rather than answer "no such charge".

/** Stripe, when a key is set; null when the command can only read the ledger. */
export function optionalStripe(env: Env): StripeSource | null {
  return env.stripeSecretKey ? new StripeSource(stripeClient(requireStripeKey(env), env.stripeApiBase)) : null;
}

/** Stripe's record of a charge the ledger does not know; exit 2 if Stripe does not know it either. */
export async function chargeFromStripe(stripe: StripeSource | null, id: string): Promise<Stripe.Charge> {
  if (!stripe) throw new UsageError(`no charge ${id} in the ledger`, "set STRIPE_SECRET_KEY to look it up in Stripe; `paidup status` lists the stuck ones");
  const charge = await stripe.retrieveCharge(id);
  if (!charge) throw new UsageError(`neither the ledger nor Stripe knows ${id}`, "`paidup status` lists the stuck ones");
  return charge;
}

/** What the ledger keeps of a charge fetched from Stripe. */
export function chargeFacts(charge: Stripe.Charge): ChargeFacts {
  const email = charge.billing_details?.email ?? charge.receipt_email ?? null;
  return { id: charge.id, created: charge.created, amount: charge.amount, currency: charge.currency, email, name: charge.billing_details?.name ?? null };
}
