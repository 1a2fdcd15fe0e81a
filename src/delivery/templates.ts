import Mustache from "mustache";
import type { Product } from "../config";

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

// The amount formatter lives with the currency table, so `status` formats amounts without
// loading the template engine.
export { formatAmount } from "./currencies";

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

