import { Clock, systemClock } from "../clock";
import type { Env } from "../env";
import { UsageError } from "../errors";
import type { Ledger } from "../ledger";
import { openLedger } from "../ledger/open";
import type { StripeSource } from "../stripe/stripe-source";

// What commands that only look (`status`, `show`) open: kept apart from context.ts, which loads
// the config schema and the mailer, so `status --offline` starts in a few milliseconds. Hence
// also the opener from ../ledger/open, not the ledger's index (whose constants load half of the
// ledger's operation modules), and Stripe's side (its client, its SDK) only when a key is given.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const stripeSide = () => require("../stripe/stripe-source") as typeof import("../stripe/stripe-source");

export interface LookContext {
  ledger: Ledger;
  /** null when no Stripe key was given: the command works from the ledger alone. */
  stripe: StripeSource | null;
  close(): Promise<void>;
}

/**
 * For commands that only look (`status`, `show`): the ledger opened read-only, so they can
 * never write, and Stripe only when a key is given.
 */
export async function openLookContext(env: Env, stripeKey: string | undefined, clock: Clock = systemClock): Promise<LookContext> {
  const stripe = stripeKey ? stripeSource(stripeKey, env, clock) : null;
  const ledger = await openLedger(env, { readonly: true });
  try {
    if (stripeKey) await checkKeyMode(ledger, stripeSide().keyMode(stripeKey), true);
  } catch (err) {
    await ledger.close();
    throw ledger.asLedgerError(err);
  }
  return { ledger, stripe, close: () => ledger.close() };
}

function stripeSource(stripeKey: string, env: Env, clock: Clock): StripeSource {
  const { StripeSource, stripeClient } = stripeSide();
  return new StripeSource(stripeClient(stripeKey, env.stripeApiBase), clock);
}

/** A ledger made with a test-mode key must never be driven by a live key, nor the reverse. */
export async function checkKeyMode(ledger: Ledger, mode: "test" | "live", readonly: boolean): Promise<void> {
  const recorded = await ledger.getMeta("mode");
  if (recorded === undefined) {
    if (!readonly) await ledger.setMeta("mode", mode);
    return;
  }
  if (recorded !== mode) {
    throw new UsageError(
      `this ledger was made with a ${recorded}-mode Stripe key, but STRIPE_SECRET_KEY is a ${mode}-mode key`,
      `use a ${recorded}-mode key, or a separate ledger (PAIDUP_DB) for ${mode} mode`,
    );
  }
}
