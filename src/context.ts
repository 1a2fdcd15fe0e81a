import crypto from "node:crypto";
import os from "node:os";
import { systemClock, Clock } from "./clock";
import { Config, Env, loadConfig, loadEnv, requireResendKey, requireStripeKey } from "./config";
import { UsageError } from "./errors";
import { asLedgerError, DB, getMeta, openLedgerFile, setMeta } from "./ledger";
import { log } from "./log";
import { Mailer } from "./mailer";
import type { PassDeps } from "./pass-deps";
import { keyMode, StripeSource, stripeClient } from "./stripe-source";

export interface ContextOptions {
  /** Sending needs RESEND_API_KEY; --dry-run and read-only commands do not. */
  send: boolean;
  readonly?: boolean;
  clock?: Clock;
}

export interface Context {
  env: Env;
  config: Config;
  db: DB;
  deps: PassDeps;
  close(): void;
}

/** A name for this process's leases: host, pid and a random tail (pids are reused). */
export function processOwner(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString("hex")}`;
}

/**
 * Everything a command needs, checked in the order that changes nothing: keys, config file,
 * then the ledger. Any failure before the ledger opens is exit 2 with nothing touched.
 */
export function openContext(opts: ContextOptions): Context {
  const env = loadEnv();
  const stripeKey = requireStripeKey(env);
  const resendKey = opts.send ? requireResendKey(env) : undefined;
  const config = loadConfig(env.configPath);
  const clock = opts.clock ?? systemClock;
  const stripe = new StripeSource(stripeClient(stripeKey, env.stripeApiBase), clock);
  const db = openLedgerFile(env.dbPath, { readonly: opts.readonly });
  try {
    checkKeyMode(db, keyMode(stripeKey), opts.readonly === true);
  } catch (err) {
    db.close();
    throw asLedgerError(err, env.dbPath);
  }
  const mailer = resendKey ? Mailer.create(resendKey, clock, config.resend.maxPerSecond) : null;
  const deps: PassDeps = { db, stripe, mailer, config, clock, log, owner: processOwner() };
  return { env, config, db, deps, close: () => db.close() };
}

/** A ledger made with a test-mode key must never be driven by a live key, nor the reverse. */
function checkKeyMode(db: DB, mode: "test" | "live", readonly: boolean): void {
  const recorded = getMeta(db, "mode");
  if (recorded === undefined) {
    if (!readonly) setMeta(db, "mode", mode);
    return;
  }
  if (recorded !== mode) {
    throw new UsageError(
      `this ledger was made with a ${recorded}-mode Stripe key, but STRIPE_SECRET_KEY is a ${mode}-mode key`,
      `use a ${recorded}-mode key, or a separate ledger (PAIDUP_DB) for ${mode} mode`,
    );
  }
}
