import crypto from "node:crypto";
import os from "node:os";
import { systemClock, Clock } from "../clock";
import { Config, Env, loadConfig, loadEnv, requireResendKey, requireStripeKey } from "../config";
import { assertSendable } from "./config-checks";
import { Ledger, openLedger } from "../ledger";
import { log } from "../log";
import { Mailer } from "../delivery/mailer";
import type { PassDeps } from "../pass/pass-deps";
import { keyMode, StripeSource, stripeClient } from "../stripe/stripe-source";
import { checkKeyMode } from "./look-context";
import { AlertChannel, EmailChannel, webhookChannelFromEnv } from "../alerts";

export { LookContext, openLookContext } from "./look-context";

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
  // What `check` would refuse, every sending command refuses too, before the ledger is touched.
  assertSendable(config, env.configPath);
  // A webhook URL that cannot be one is a configuration error before anything is touched.
  const webhook = webhookChannelFromEnv(env.alertWebhookUrl);
  const clock = opts.clock ?? systemClock;
  const stripe = new StripeSource(stripeClient(stripeKey, env.stripeApiBase), clock);
  stripe.onWarning = (message) => log.warn(message);
  const ledger = await openLedger(env, { readonly: opts.readonly });
  try {
    await checkKeyMode(ledger, keyMode(stripeKey), opts.readonly === true);
  } catch (err) {
    await ledger.close();
    throw ledger.asLedgerError(err);
  }
  const mailer = resendKey ? Mailer.create(resendKey, clock, config.resend.maxPerSecond, undefined, resendTimeoutMs()) : null;
  const deps: PassDeps = { ledger, stripe, mailer, config, clock, log, owner: processOwner(), alertChannels: alertChannels(config, mailer, webhook) };
  return { env, config, ledger, deps, close: () => ledger.close() };
}

/** Every channel alerts go through: email to alertTo (when this command may send), the chat webhook. */
export function alertChannels(config: Config, mailer: Mailer | null, webhook: AlertChannel | null): AlertChannel[] {
  const channels: AlertChannel[] = [];
  if (config.alertTo && mailer) channels.push(new EmailChannel(mailer, config.from, config.alertTo));
  if (webhook) channels.push(webhook);
  return channels;
}

/**
 * Test/ops hook: PAIDUP_RESEND_TIMEOUT_MS replaces the 30 s base timeout of a Resend request
 * (fault tests use ~500 ms for a Resend that never answers). Unset or invalid: the default.
 */
function resendTimeoutMs(): number | undefined {
  const ms = Number(process.env.PAIDUP_RESEND_TIMEOUT_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
