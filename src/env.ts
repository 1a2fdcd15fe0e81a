import fs from "node:fs";
import path from "node:path";
import { UsageError } from "./errors";
import { registerSecret } from "./redact";

// The environment every command reads first: keys, and where the config and the ledger are.
// Kept apart from config.ts so that a command that only looks (`status --offline`) starts
// without loading zod.

export interface Env {
  stripeSecretKey?: string;
  resendApiKey?: string;
  webhookSecret?: string;
  configPath: string;
  dbPath: string;
  /** PAIDUP_DATABASE_URL: the ledger is in PostgreSQL (dbPath is then ignored). */
  databaseUrl?: string;
  stripeApiBase?: string;
  /** RESEND_WEBHOOK_SECRET (whsec_…): enables POST /webhooks/resend. */
  resendWebhookSecret?: string;
  /** PAIDUP_HEARTBEAT_URL: a push monitor pinged after every pass (its path is a secret). */
  heartbeatUrl?: string;
  /** PAIDUP_ALERT_WEBHOOK_URL: every alert also POSTed here as JSON (its path and query are a secret). */
  alertWebhookUrl?: string;
}

/** Reads `.env` from the working directory (never overriding the real environment). */
export function loadEnv(cwd = process.cwd()): Env {
  const envFile = path.join(cwd, ".env");
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (fs.existsSync(envFile)) (require("dotenv") as typeof import("dotenv")).config({ path: envFile, quiet: true });
  const e = process.env;
  for (const secret of [e.STRIPE_SECRET_KEY, e.RESEND_API_KEY, e.STRIPE_WEBHOOK_SECRET, e.RESEND_WEBHOOK_SECRET, e.PAIDUP_HEARTBEAT_URL, e.PAIDUP_ALERT_WEBHOOK_URL, passwordOf(e.PAIDUP_DATABASE_URL)]) registerSecret(secret);
  return {
    stripeSecretKey: e.STRIPE_SECRET_KEY || undefined,
    resendApiKey: e.RESEND_API_KEY || undefined,
    webhookSecret: e.STRIPE_WEBHOOK_SECRET || undefined,
    configPath: path.resolve(cwd, e.PAIDUP_CONFIG || "paidup.config.json"),
    dbPath: path.resolve(cwd, e.PAIDUP_DB || path.join("state", "paidup.db")),
    databaseUrl: e.PAIDUP_DATABASE_URL || undefined,
    stripeApiBase: e.STRIPE_API_BASE || undefined,
    heartbeatUrl: e.PAIDUP_HEARTBEAT_URL || undefined,
    alertWebhookUrl: e.PAIDUP_ALERT_WEBHOOK_URL || undefined,
    resendWebhookSecret: e.RESEND_WEBHOOK_SECRET || undefined,
  };
}

/** The password in a database URL, so it is masked wherever it might appear. */
function passwordOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

export function requireStripeKey(env: Env): string {
  if (!env.stripeSecretKey) {
    throw new UsageError("STRIPE_SECRET_KEY is not set", "put a restricted key with read access to charges, customers and checkout sessions in the environment or in .env");
  }
  if (!/^(sk|rk)_(test|live)_/.test(env.stripeSecretKey)) {
    throw new UsageError("STRIPE_SECRET_KEY does not look like a Stripe secret or restricted key (sk_… or rk_…)");
  }
  return env.stripeSecretKey;
}

export function requireResendKey(env: Env): string {
  if (!env.resendApiKey) throw new UsageError("RESEND_API_KEY is not set", "it is needed for every run that sends; --dry-run works without it");
  return env.resendApiKey;
}
