import Mustache from "mustache";
import type { Product } from "../config";
import { stripeDecimals } from "./currencies";

// Mustache: `{{placeholder}}` and dotted names (`links.download`) out of the box, HTML-escaped by
// default. Text bodies and subjects are rendered with escaping turned off.

export interface TemplateVars {
  name: string;
  email: string;
  product: string;
  charge: string;
  amount: string;
  links: Record<string, string>;
  /** A product with downloads: one entry per file, for a `{{#downloads}}…{{/downloads}}` section. */
  downloads?: DownloadVar[];
  /** A product with a license: its key, activation limit and expiry date (or "never"). */
  license?: LicenseVar;
}

export interface LicenseVar {
  key: string;
  activations: number;
  expires: string;
}

export interface DownloadVar {
  name: string;
  url: string;
  /** When the link stops working, as a readable UTC date and time. */
  expires: string;
}

export interface RenderedEmail {
  subject: string;
  text?: string;
  html?: string;
}

const plain = { escape: (s: unknown) => String(s) };
// Mustache's default also escapes "/" and "=", which mangles URLs in href attributes for nothing.
const HTML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };
const html = { escape: (s: unknown) => String(s).replace(/[&<>"'`]/g, (c) => HTML_ENTITIES[c] as string) };

// Building an Intl.NumberFormat costs ~0.15 ms, most of paidup's own CPU per charge in a long
// pass (bench/RESULTS.md): one per currency, not one per charge.
const formatters = new Map<string, { fmt: Intl.NumberFormat; digits: number }>();

/**
 * 4900 usd → "$49.00", 4900 jpy → "¥4,900", 500 isk → "ISK 5": the one formatter for emails,
 * alerts, `status` and `show`, by Stripe's decimal places for the currency.
 */
export function formatAmount(amount: number, currency: string): string {
  const code = currency.toUpperCase();
  const digits = stripeDecimals(code);
  try {
    let f = formatters.get(code);
    if (!f) {
      const local = new Intl.NumberFormat("en-US", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
      // Intl's usual digits where Stripe's amount has them (USD 49.00), never hiding a minor unit.
      const fmt = new Intl.NumberFormat("en-US", { style: "currency", currency: code, minimumFractionDigits: Math.min(local, digits), maximumFractionDigits: digits });
      formatters.set(code, (f = { fmt, digits }));
    }
    return f.fmt.format(amount / 10 ** f.digits);
  } catch {
    return `${(amount / 10 ** digits).toFixed(digits)} ${code}`;
  }
}

export function renderEmail(product: Product, vars: TemplateVars): RenderedEmail {
  const view = { ...vars };
  return {
    subject: Mustache.render(product.subject, view, {}, plain).replace(/[\r\n]+/g, " "),
    text: product.textTemplate === undefined ? undefined : Mustache.render(product.textTemplate, view, {}, plain),
    html: product.htmlTemplate === undefined ? undefined : Mustache.render(product.htmlTemplate, view, {}, html),
  };
}

/** Names used in a template that the render would leave empty: a typo the operator should see. */
export function unknownPlaceholders(template: string): string[] {
  const known = new Set(["name", "email", "product", "charge", "amount", "downloads"]);
  const tokens = Mustache.parse(template);
  const names = tokens.filter((t) => t[0] === "name" || t[0] === "&").map((t) => String(t[1]));
  // Inside a downloads section the names are the entry's own.
  const inSections = tokens
    .filter((t) => t[0] === "#" && t[1] === "downloads")
    .flatMap((t) => ((t[4] ?? []) as unknown[][]).filter((s) => s[0] === "name" || s[0] === "&").map((s) => String(s[1])))
    .filter((n) => !["name", "url", "expires", "."].includes(n));
  const licenseNames = new Set(["license.key", "license.activations", "license.expires"]);
  return [...names, ...inSections].filter((n) => !known.has(n) && !n.startsWith("links.") && !licenseNames.has(n));
}

