import fs from "node:fs";
import path from "node:path";
import dotenv from "dotenv";
import { z } from "zod";
import { parseDuration } from "./duration";
import { UsageError } from "./errors";
import { registerSecret } from "./redact";

// zod validates the file and gives every error the path of its field ("products[1].match").

const duration = z.string().regex(/^\d+\s*[smhd]$/, "must be a duration such as 15m, 2h or 7d");

const matchSchema = z
  .object({
    metadata: z.record(z.string(), z.string()).optional(),
    price: z.string().startsWith("price_").optional(),
    product: z.string().startsWith("prod_").optional(),
    amount: z.number().int().positive().optional(),
    currency: z
      .string()
      .regex(/^[a-zA-Z]{3}$/, "must be a three-letter currency code")
      .transform((c) => c.toLowerCase())
      .optional(),
  })
  .strict()
  .refine((m) => Object.values(m).some((v) => v !== undefined), "needs at least one of metadata, price, product, amount")
  .refine((m) => (m.amount === undefined) === (m.currency === undefined), "amount and currency go together");

const productSchema = z
  .object({
    key: z.string().min(1),
    name: z.string().min(1).optional(),
    match: matchSchema,
    subject: z.string().min(1),
    text: z.string().min(1).optional(),
    html: z.string().min(1).optional(),
    attachments: z.array(z.string().min(1)).default([]),
    links: z.record(z.string(), z.string().url()).default({}),
  })
  .strict()
  .refine((p) => p.text !== undefined || p.html !== undefined, "needs a text or an html template");

const fileSchema = z
  .object({
    from: z.string().min(3),
    replyTo: z.string().email().optional(),
    alertTo: z.string().email().optional(),
    stuckAfter: duration.default("15m"),
    staleAfter: duration.default("10m"),
    retry: z
      .object({
        maxAttempts: z.number().int().min(1).max(100).default(8),
        delays: z.array(duration).min(1).default(["1m", "5m", "30m", "2h", "6h"]),
      })
      .strict()
      .default({ maxAttempts: 8, delays: ["1m", "5m", "30m", "2h", "6h"] }),
    resend: z
      .object({ maxPerSecond: z.number().positive().max(100).default(5) })
      .strict()
      .default({ maxPerSecond: 5 }),
    products: z.array(productSchema).min(1),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.products.forEach((p, i) => {
      if (seen.has(p.key)) ctx.addIssue({ code: "custom", path: ["products", i, "key"], message: `duplicate key "${p.key}"` });
      seen.add(p.key);
    });
  });

export type MatchRule = z.infer<typeof matchSchema>;

export interface Product {
  key: string;
  name: string;
  match: MatchRule;
  subject: string;
  textTemplate?: string;
  htmlTemplate?: string;
  /** Absolute paths, resolved against the config file's folder. */
  attachments: string[];
  links: Record<string, string>;
}

export interface Config {
  from: string;
  replyTo?: string;
  alertTo?: string;
  stuckAfterMs: number;
  staleAfterMs: number;
  retry: { maxAttempts: number; delaysMs: number[] };
  resend: { maxPerSecond: number };
  products: Product[];
}

export interface Env {
  stripeSecretKey?: string;
  resendApiKey?: string;
  webhookSecret?: string;
  configPath: string;
  dbPath: string;
  stripeApiBase?: string;
}

/** Reads `.env` from the working directory (never overriding the real environment). */
export function loadEnv(cwd = process.cwd()): Env {
  const envFile = path.join(cwd, ".env");
  if (fs.existsSync(envFile)) dotenv.config({ path: envFile, quiet: true });
  const e = process.env;
  for (const secret of [e.STRIPE_SECRET_KEY, e.RESEND_API_KEY, e.STRIPE_WEBHOOK_SECRET]) registerSecret(secret);
  return {
    stripeSecretKey: e.STRIPE_SECRET_KEY || undefined,
    resendApiKey: e.RESEND_API_KEY || undefined,
    webhookSecret: e.STRIPE_WEBHOOK_SECRET || undefined,
    configPath: path.resolve(cwd, e.PAIDUP_CONFIG || "paidup.config.json"),
    dbPath: path.resolve(cwd, e.PAIDUP_DB || path.join("state", "paidup.db")),
    stripeApiBase: e.STRIPE_API_BASE || undefined,
  };
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

function formatPath(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), "");
}

function readTemplate(baseDir: string, file: string, field: string): string {
  const full = path.resolve(baseDir, file);
  try {
    return fs.readFileSync(full, "utf8");
  } catch {
    throw new UsageError(`config ${field}: template file ${full} cannot be read`);
  }
}

/** Loads and validates the config file; every error names the file and the field. */
export function loadConfig(configPath: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(configPath, "utf8"));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : `is not valid JSON (${(err as Error).message})`;
    throw new UsageError(`config file ${configPath} ${why}`, "set PAIDUP_CONFIG or create paidup.config.json (see paidup.config.example.json)");
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${formatPath(i.path) || "(top level)"}: ${i.message}`);
    throw new UsageError(`config file ${configPath} is invalid:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  const baseDir = path.dirname(configPath);
  return {
    from: c.from,
    replyTo: c.replyTo,
    alertTo: c.alertTo,
    stuckAfterMs: parseDuration(c.stuckAfter, "stuckAfter"),
    staleAfterMs: parseDuration(c.staleAfter, "staleAfter"),
    retry: { maxAttempts: c.retry.maxAttempts, delaysMs: c.retry.delays.map((d, i) => parseDuration(d, `retry.delays[${i}]`)) },
    resend: { maxPerSecond: c.resend.maxPerSecond },
    products: c.products.map((p, i) => ({
      key: p.key,
      name: p.name ?? p.key,
      match: p.match,
      subject: p.subject,
      textTemplate: p.text === undefined ? undefined : readTemplate(baseDir, p.text, `products[${i}].text`),
      htmlTemplate: p.html === undefined ? undefined : readTemplate(baseDir, p.html, `products[${i}].html`),
      attachments: p.attachments.map((a) => path.resolve(baseDir, a)),
      links: p.links,
    })),
  };
}
