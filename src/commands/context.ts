import crypto from "node:crypto";
import os from "node:os";
import { systemClock, Clock } from "../clock";
import { Config, Env, loadConfig, loadEnv, requireResendKey, requireStripeKey } from "../config";
import { UsageError } from "../errors";
import { Ledger, openLedger } from "../ledger";
import { log } from "../log";
import { Mailer } from "../delivery/mailer";
import type { PassDeps } from "../pass/pass-deps";
import { keyMode, StripeSource, stripeClient } from "../stripe/stripe-source";

export interface ContextOptions {
  /** Sending needs RESEND_API_KEY; --dry-run and read-only commands do not. */
  send: boolean;
  readonly?: boolean;
  clock?: Clock;
}

export interface Context {
  env: Env;
  config: Config;
  ledger: Ledger;
  deps: PassDeps;
  close(): Promise<void>;
}

/** A name for this process's leases: host, pid and a random tail (pids are reused). */
export function processOwner(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString("hex")}`;
}

/**
 * Everything a command needs, checked in the order that changes nothing: keys, config file,
 * then the ledger. Any failure before the ledger opens is exit 2 with nothing touched.
 */
export async function openContext(opts: ContextOptions): Promise<Context> {
  const env = loadEnv();
  const stripeKey = requireStripeKey(env);
  const resendKey = opts.send ? requireResendKey(env) : undefined;
  const config = loadConfig(env.configPath);
  const clock = opts.clock ?? systemClock;
  const stripe = new StripeSource(stripeClient(stripeKey, env.stripeApiBase), clock);
  const ledger = await openLedger(env, { readonly: opts.readonly });
  try {
    await checkKeyMode(ledger, keyMode(stripeKey), opts.readonly === true);
  } catch (err) {
    await ledger.close();
    throw ledger.asLedgerError(err);
  }
  const mailer = resendKey ? Mailer.create(resendKey, clock, config.resend.maxPerSecond, undefined, resendTimeoutMs()) : null;
  const deps: PassDeps = { ledger, stripe, mailer, config, clock, log, owner: processOwner() };
  return { env, config, ledger, deps, close: () => ledger.close() };
}

/**
 * Test/ops hook: PAIDUP_RESEND_TIMEOUT_MS replaces the 30 s base timeout of a Resend request
 * (fault tests use ~500 ms for a Resend that never answers). Unset or invalid: the default.
 */
function resendTimeoutMs(): number | undefined {
  const ms = Number(process.env.PAIDUP_RESEND_TIMEOUT_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

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
  const stripe = stripeKey ? new StripeSource(stripeClient(stripeKey, env.stripeApiBase), clock) : null;
  const ledger = await openLedger(env, { readonly: true });
  try {
    if (stripeKey) await checkKeyMode(ledger, keyMode(stripeKey), true);
  } catch (err) {
    await ledger.close();
    throw ledger.asLedgerError(err);
  }
  return { ledger, stripe, close: () => ledger.close() };
}

/** A ledger made with a test-mode key must never be driven by a live key, nor the reverse. */
async function checkKeyMode(ledger: Ledger, mode: "test" | "live", readonly: boolean): Promise<void> {
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
