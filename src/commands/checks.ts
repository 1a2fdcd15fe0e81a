import { Resend } from "resend";
import { Config, Env, loadConfig, Product, requireStripeKey } from "../config";
import { RuntimeFailure } from "../errors";
import { openLedger } from "../ledger";
import { checkAttachments } from "../delivery/payload";
import { redact } from "../redact";
import { keyMode, StripeSource, stripeClient } from "../stripe/stripe-source";
import { renderEmail, unknownPlaceholders } from "../delivery/templates";
import { downloadFileProblems } from "../downloads/files-check";

// `paidup check` and the daemon's start-up: every way a pass could fail for configuration
// reasons, found before a buyer waits. Nothing here sends an email or changes the ledger.

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
  /** A failure that stops only one product's charges (they go to needs_review), not every pass. */
  productOnly?: boolean;
  /** Unreachable or a server error: it may pass on its own (the next pass tries again). */
  transient?: boolean;
}

const KEY_CHECK_TIMEOUT_MS = 15_000;
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;.]+(?:\.[^\s@<>",;.]+)*\.[A-Za-z]{2,}$/;

function message(err: unknown): string {
  return redact(err instanceof Error ? err.message : String(err));
}

export async function runChecks(env: Env): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add: Add = (name, ok, detail, flags = {}) => results.push({ name, ok, detail, ...flags });

  const stripeKey = await checkStripe(env, add);
  await checkResend(env, add);
  let config: Config | undefined;
  try {
    config = loadConfig(env.configPath);
    add("config", true, `${env.configPath}: ${config.products.length} product(s)`);
  } catch (err) {
    add("config", false, message(err));
  }
  if (config) {
    add("from address", plausibleFrom(config.from), plausibleFrom(config.from) ? config.from : `"${config.from}" is not an address like shop@example.com or Shop <shop@example.com>`);
    for (const product of config.products) {
      const problems = templateProblems(product);
      add(`templates of ${product.key}`, problems.length === 0, problems.length === 0 ? "render" : problems.join("; "));
      try {
        checkAttachments(product.attachments);
        add(`attachments of ${product.key}`, true, product.attachments.length === 0 ? "none" : `${product.attachments.length} file(s) present, within Resend's 40 MB`);
      } catch (err) {
        add(`attachments of ${product.key}`, false, message(err), { productOnly: true });
      }
      if (product.downloads) {
        const problems = downloadFileProblems(product.downloads.files);
        add(`downloads of ${product.key}`, problems.length === 0, problems.length === 0 ? `${product.downloads.files.length} file(s) present and readable` : problems.join("; "), { productOnly: true });
      }
    }
    if (config.publicUrl) add("public URL", true, `download links start with ${config.publicUrl}/d/`);
  }
  await checkLedger(env, stripeKey, add);
  return results;
}

type Add = (name: string, ok: boolean, detail: string, flags?: { productOnly?: boolean; transient?: boolean }) => void;

async function checkStripe(env: Env, add: Add): Promise<string | undefined> {
  let key: string;
  try {
    key = requireStripeKey(env);
  } catch (err) {
    add("stripe key", false, message(err));
    return undefined;
  }
  try {
    await new StripeSource(stripeClient(key, env.stripeApiBase)).ping();
    add("stripe key", true, `accepted (${keyMode(key)} mode), may list charges`);
  } catch (err) {
    add("stripe key", false, message(err), { transient: err instanceof RuntimeFailure });
  }
  return key;
}

/** GET /domains: the one cheap authenticated read Resend offers. It sends nothing. */
async function checkResend(env: Env, add: Add): Promise<void> {
  if (!env.resendApiKey) return add("resend key", false, "RESEND_API_KEY is not set");
  const { error } = await new Resend(env.resendApiKey).domains.list({}, { signal: AbortSignal.timeout(KEY_CHECK_TIMEOUT_MS) }).catch((err: unknown) => ({
    error: { name: "application_error", statusCode: null, message: String(err) },
  }));
  if (!error) return add("resend key", true, "accepted");
  // A sending-only key may not list domains, which proves Resend knows it: that is all we need.
  if (error.name === "restricted_api_key") return add("resend key", true, "accepted (sending-only key)");
  if (error.statusCode === null || error.statusCode >= 500) {
    return add("resend key", false, `Resend unreachable or failing: ${redact(error.message)}`, { transient: true });
  }
  add("resend key", false, `Resend rejected RESEND_API_KEY (${error.name})`);
}

function plausibleFrom(from: string): boolean {
  const named = /^[^<>]*<([^<>]+)>$/.exec(from.trim());
  return ADDRESS.test((named?.[1] ?? from).trim());
}

/** Unknown placeholder names, links the product does not define, and templates that do not parse. */
function templateProblems(product: Product): string[] {
  const problems: string[] = [];
  const templates: [string, string | undefined][] = [["subject", product.subject], ["text", product.textTemplate], ["html", product.htmlTemplate]];
  for (const [field, template] of templates) {
    if (template === undefined) continue;
    let names: string[];
    try {
      names = unknownPlaceholders(template);
      renderEmail(product, {
        name: "Ada", email: "ada@example.com", product: product.name, charge: "ch_check", amount: "$1.00", links: product.links,
        downloads: product.downloads ? [{ name: "file.zip", url: "https://example.com/d/x", expires: "2026-01-01 00:00 UTC" }] : undefined,
      });
    } catch (err) {
      problems.push(`${field} does not parse: ${message(err)}`);
      continue;
    }
    if (names.length > 0) problems.push(`${field} uses unknown placeholder(s) ${names.map((n) => `{{${n}}}`).join(", ")}`);
    const links = [...template.matchAll(/\{\{\{?\s*&?\s*links\.([^}\s]+)\s*\}?\}\}/g)].map((m) => m[1] as string);
    const undefinedLinks = links.filter((l) => !(l in product.links));
    if (undefinedLinks.length > 0) problems.push(`${field} uses links the product does not define: ${undefinedLinks.map((l) => `links.${l}`).join(", ")}`);
  }
  return problems;
}

/** Opens the ledger and takes the write lock for a moment, changing nothing. */
async function checkLedger(env: Env, stripeKey: string | undefined, add: Add): Promise<void> {
  try {
    const ledger = await openLedger(env);
    try {
      await ledger.probeWrite();
      const mode = await ledger.getMeta("mode");
      if (stripeKey && mode !== undefined && mode !== keyMode(stripeKey)) {
        return add("ledger", false, `${env.dbPath} was made with a ${mode}-mode Stripe key, but STRIPE_SECRET_KEY is ${keyMode(stripeKey)}-mode`);
      }
      add("ledger", true, `${env.dbPath} writable`);
    } finally {
      await ledger.close();
    }
  } catch (err) {
    add("ledger", false, message(err));
  }
}
