import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { parseDuration } from "./duration";
import Mustache from "mustache";
import { UsageError } from "./errors";
import { DEFAULT_STALE_AFTER, DEFAULT_STUCK_AFTER, readConfigJson } from "./thresholds";

// The environment (keys, paths) lives in env.ts, loaded without zod by commands that only look.
export { Env, loadEnv, requireResendKey, requireStripeKey } from "./env";

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

const downloadsSchema = z
  .object({
    files: z.array(z.string().min(1)).min(1),
    expiresAfter: duration.default("7d"),
    maxDownloads: z.number().int().min(1).max(1000).default(5),
  })
  .strict();

const licenseSchema = z
  .object({
    activations: z.number().int().min(1).max(10_000).default(3),
    expiresAfter: duration.optional(),
    offlineFor: duration.default("7d"),
    prefix: z.string().regex(/^[A-Z0-9]{1,16}$/, "must be 1–16 characters of A-Z and 0-9").optional(),
  })
  .strict();

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
    downloads: downloadsSchema.optional(),
    license: licenseSchema.optional(),
    renewals: z.enum(["skip", "deliver"]).default("skip"),
  })
  .strict()
  .refine((p) => p.text !== undefined || p.html !== undefined, "needs a text or an html template");

/**
 * Charges that are not the shop's, skipped before any product is tried. One kind per rule, so a
 * rule reads as what it is; an unknown field is named by zod's strict check.
 */
const ignoreRuleSchema = z
  .object({
    metadata: z.record(z.string(), z.string()).refine((m) => Object.keys(m).length > 0, "needs at least one key").optional(),
    application: z.string().startsWith("ca_", "must be a Connect application id (ca_…)").optional(),
    descriptionPrefix: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => Object.values(r).filter((v) => v !== undefined).length === 1, "a rule has exactly one of metadata, application, descriptionPrefix");

const fileSchema = z
  .object({
    from: z.string().min(3),
    replyTo: z.string().email().optional(),
    alertTo: z.string().email().optional(),
    stuckAfter: duration.default(DEFAULT_STUCK_AFTER),
    staleAfter: duration.default(DEFAULT_STALE_AFTER),
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
    publicUrl: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), "must be an http:// or https:// URL")
      .refine((u) => !/[?#]/.test(u), "must not have a query or fragment")
      .optional(),
    ignore: z.array(ignoreRuleSchema).default([]),
    products: z.array(productSchema).min(1),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const withDownloads = cfg.products.findIndex((p) => p.downloads !== undefined);
    if (withDownloads >= 0 && cfg.publicUrl === undefined) {
      ctx.addIssue({ code: "custom", path: ["publicUrl"], message: `is required because products[${withDownloads}] has downloads (the address where \`paidup serve\` is reachable)` });
    }
    const seen = new Set<string>();
    cfg.products.forEach((p, i) => {
      if (seen.has(p.key)) ctx.addIssue({ code: "custom", path: ["products", i, "key"], message: `duplicate key "${p.key}"` });
      seen.add(p.key);
    });
  });

export type MatchRule = z.infer<typeof matchSchema>;
export type IgnoreRule = z.infer<typeof ignoreRuleSchema>;

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
  downloads?: Downloads;
  license?: License;
  /** A subscription's later invoices: skipped as renewals (default), or delivered each time. */
  renewals: "skip" | "deliver";
}

export interface License {
  /** Activations per unit bought: the key's limit is this × the line item's quantity. */
  activations: number;
  /** null: the key never expires; else it runs from Resend's first acceptance of the email. */
  expiresAfterMs: number | null;
  /** How long a certificate lets an app work offline (never past the key's own expiry). */
  offlineForMs: number;
  prefix: string | null;
}

export interface Downloads {
  /** Absolute paths, resolved against the config file's folder. */
  files: string[];
  expiresAfterMs: number;
  maxDownloads: number;
}

export interface Config {
  from: string;
  replyTo?: string;
  alertTo?: string;
  stuckAfterMs: number;
  staleAfterMs: number;
  retry: { maxAttempts: number; delaysMs: number[] };
  resend: { maxPerSecond: number };
  /** Where `serve` is reachable, without a trailing slash; set whenever a product has downloads. */
  publicUrl?: string;
  /** Charges that are not the shop's: skipped before any product is tried. */
  ignore: IgnoreRule[];
  products: Product[];
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
  const parsed = fileSchema.safeParse(readConfigJson(configPath));
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
    publicUrl: c.publicUrl?.replace(/\/+$/, ""),
    ignore: c.ignore,
    products: c.products.map((p, i) => withLicenseChecked(configPath, i, withDownloadsChecked(configPath, i, {
      key: p.key,
      name: p.name ?? p.key,
      match: p.match,
      subject: p.subject,
      textTemplate: p.text === undefined ? undefined : readTemplate(baseDir, p.text, `products[${i}].text`),
      htmlTemplate: p.html === undefined ? undefined : readTemplate(baseDir, p.html, `products[${i}].html`),
      attachments: p.attachments.map((a) => path.resolve(baseDir, a)),
      links: p.links,
      renewals: p.renewals,
      downloads: p.downloads && {
        files: p.downloads.files.map((f) => path.resolve(baseDir, f)),
        expiresAfterMs: parseDuration(p.downloads.expiresAfter, `products[${i}].downloads.expiresAfter`),
        maxDownloads: p.downloads.maxDownloads,
      },
      license: p.license && {
        activations: p.license.activations,
        expiresAfterMs: p.license.expiresAfter === undefined ? null : parseDuration(p.license.expiresAfter, `products[${i}].license.expiresAfter`),
        offlineForMs: parseDuration(p.license.offlineFor, `products[${i}].license.offlineFor`),
        prefix: p.license.prefix ?? null,
      },
    }))),
  };
}

/** Whether a template mentions `name` anywhere (as a placeholder or a section). Unparsable: true, `check` reports it. */
export function templateUses(template: string, name: string): boolean {
  let tokens: unknown[][];
  try {
    tokens = Mustache.parse(template) as unknown[][];
  } catch {
    return true;
  }
  const walk = (list: unknown[][]): boolean =>
    list.some((t) => (["name", "&", "#", "^"].includes(String(t[0])) && t[1] === name) || (Array.isArray(t[4]) && walk(t[4] as unknown[][])));
  return walk(tokens);
}

/**
 * A product with downloads whose templates never show them would take buyers' money and send
 * them nothing to download; one without downloads would render an empty section. Both are
 * caught when the config loads, not when a buyer's email goes out.
 */
function withDownloadsChecked(configPath: string, i: number, product: Product): Product {
  const uses = [product.textTemplate, product.htmlTemplate].some((t) => t !== undefined && templateUses(t, "downloads"));
  if (product.downloads && !uses) {
    throw new UsageError(`config file ${configPath} is invalid:\n  products[${i}].downloads: no template of "${product.key}" uses {{#downloads}}…{{/downloads}}, so buyers would get no links`);
  }
  if (!product.downloads && uses) {
    throw new UsageError(`config file ${configPath} is invalid:\n  products[${i}]: a template uses {{downloads}} but the product has no "downloads"`);
  }
  return product;
}


/** Every name a template mentions (placeholders and sections, nested ones too); unparsable: none (`check` reports it). */
function templateNames(template: string): string[] {
  let tokens: unknown[][];
  try {
    tokens = Mustache.parse(template) as unknown[][];
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (list: unknown[][]): void => {
    for (const t of list) {
      if (["name", "&", "#", "^"].includes(String(t[0]))) out.push(String(t[1]));
      if (Array.isArray(t[4])) walk(t[4] as unknown[][]);
    }
  };
  walk(tokens);
  return out;
}

/**
 * A product sold with a license whose email never shows the key would take the buyer's money
 * and give them nothing to enter; `{{license.…}}` in a product without one renders empty.
 */
function withLicenseChecked(configPath: string, i: number, product: Product): Product {
  const names = [product.subject, product.textTemplate, product.htmlTemplate].flatMap((t) => (t === undefined ? [] : templateNames(t)));
  if (product.license && !names.includes("license.key")) {
    throw new UsageError(`config file ${configPath} is invalid:\n  products[${i}].license: no template of "${product.key}" uses {{license.key}}, so buyers would get no key`);
  }
  if (!product.license && names.some((n) => n === "license" || n.startsWith("license."))) {
    throw new UsageError(`config file ${configPath} is invalid:\n  products[${i}]: a template uses {{license.…}} but the product has no "license"`);
  }
  return product;
}
