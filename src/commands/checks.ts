import os from "node:os";
import { Resend } from "resend";
import { Config, Env, loadConfig, requireStripeKey } from "../config";
import { bareAddress, fromProblem, templateProblems } from "./config-checks";
import { RuntimeFailure } from "../errors";
import { openLedger } from "../ledger";
import { checkAttachments } from "../delivery/payload";
import { redact } from "../redact";
import { keyMode, StripeSource, stripeClient } from "../stripe/stripe-source";
import { downloadFileProblems } from "../downloads/files-check";
import { webhookChannelFromEnv } from "../alerts";

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
  /** Passes, but the owner should know: printed with `!`. */
  warning?: boolean;
}

const KEY_CHECK_TIMEOUT_MS = 15_000;

function message(err: unknown): string {
  return redact(err instanceof Error ? err.message : String(err));
}

export async function runChecks(env: Env): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add: Add = (name, ok, detail, flags = {}) => results.push({ name, ok, detail, ...flags });

  const stripeKey = await checkStripe(env, add);
  const domains = await checkResend(env, add);
  let config: Config | undefined;
  try {
    config = loadConfig(env.configPath);
    add("config", true, `${env.configPath}: ${config.products.length} product(s)`);
  } catch (err) {
    add("config", false, message(err));
  }
  if (config) {
    const badFrom = fromProblem(config.from);
    add("from address", badFrom === null, badFrom ?? config.from);
    if (badFrom === null) checkFromDomain(config.from, domains, add);
    for (const product of config.products) {
      const problems = templateProblems(product).map(redact);
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
    const byAmount = config.products.filter((p) => p.match.amount !== undefined && !p.match.metadata && !p.match.price && !p.match.product);
    if (byAmount.length > 0) {
      // An amount is the weakest evidence: any charge of that amount without line items matches it.
      add("amount rules", true, `${byAmount.map((p) => p.key).join(", ")} match(es) by amount alone: any charge of that amount with no Checkout Session, Payment Link or invoice behind it gets it, whatever it was for; prefer a price, product or metadata rule`, { warning: true });
    }
  }
  checkAlertWebhook(env, add);
  await checkLedger(env, stripeKey, add);
  return results;
}

/** PAIDUP_ALERT_WEBHOOK_URL, if set, must be an http(s) URL; only its host is shown. */
function checkAlertWebhook(env: Env, add: Add): void {
  if (!env.alertWebhookUrl) return;
  try {
    const channel = webhookChannelFromEnv(env.alertWebhookUrl);
    add("alert webhook", true, `alerts are also POSTed to the ${channel?.shown ?? ""}`);
  } catch (err) {
    add("alert webhook", false, message(err));
  }
}

type Add = (name: string, ok: boolean, detail: string, flags?: { productOnly?: boolean; transient?: boolean; warning?: boolean }) => void;

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

/** The team's sending domains, or why they are not known: a sending-only key may not list them. */
type Domains = { name: string; status: string }[] | "sending-only" | "unknown";

/** GET /domains: the one cheap authenticated read Resend offers. It sends nothing. */
async function checkResend(env: Env, add: Add): Promise<Domains> {
  if (!env.resendApiKey) {
    add("resend key", false, "RESEND_API_KEY is not set");
    return "unknown";
  }
  const { data, error } = await new Resend(env.resendApiKey).domains.list({}, { signal: AbortSignal.timeout(KEY_CHECK_TIMEOUT_MS) }).catch((err: unknown) => ({
    data: null,
    error: { name: "application_error", statusCode: null, message: String(err) },
  }));
  if (!error) {
    add("resend key", true, "accepted");
    return (data?.data ?? []).map((d) => ({ name: d.name, status: d.status }));
  }
  // A sending-only key may not list domains, which proves Resend knows it: that is all we need.
  if (error.name === "restricted_api_key") {
    add("resend key", true, "accepted (sending-only key)");
    return "sending-only";
  }
  if (error.statusCode === null || error.statusCode >= 500) {
    add("resend key", false, `Resend unreachable or failing: ${redact(error.message)}`, { transient: true });
    return "unknown";
  }
  add("resend key", false, `Resend rejected RESEND_API_KEY (${error.name})`);
  return "unknown";
}

/** Resend refuses (403 validation_error) every send from a domain that is not verified. */
function checkFromDomain(from: string, domains: Domains, add: Add): void {
  const domain = (bareAddress(from).split("@")[1] ?? "").toLowerCase();
  if (domains === "unknown") return;
  if (domains === "sending-only") return add("from domain", true, `${domain}: not checked (a sending-only key cannot list domains)`);
  const found = domains.find((d) => d.name.toLowerCase() === domain);
  if (found?.status === "verified") return add("from domain", true, `${domain} verified in Resend`);
  const why = found ? `is ${found.status.replace(/_/g, " ")} in Resend, not verified` : "is not one of this Resend team's domains";
  add("from domain", false, `${domain} ${why}: Resend refuses every email from it; verify it at resend.com/domains, or use a from address on a verified domain`);
}

/**
 * The ledger as the user running this command will use it: intact (every page read), and
 * writable (a real write, rolled back). Changes nothing.
 */
async function checkLedger(env: Env, stripeKey: string | undefined, add: Add): Promise<void> {
  const user = `${os.userInfo().username} (uid ${os.userInfo().uid})`;
  try {
    const ledger = await openLedger(env);
    try {
      const problems = await ledger.integrityProblems();
      if (problems.length > 0) {
        const found = `${problems.slice(0, 3).join("; ")}${problems.length > 3 ? "; …" : ""}`;
        return add("ledger", false, `${ledger.where} is corrupt (PRAGMA quick_check: ${found}); stop paidup and restore the ledger from a backup`);
      }
      await ledger.probeWrite();
      const mode = await ledger.getMeta("mode");
      if (stripeKey && mode !== undefined && mode !== keyMode(stripeKey)) {
        return add("ledger", false, `${ledger.where} was made with a ${mode}-mode Stripe key, but STRIPE_SECRET_KEY is ${keyMode(stripeKey)}-mode`);
      }
      add("ledger", true, `${ledger.where}, schema version ${await ledger.schemaVersion()}, writable by ${user}, intact`);
    } catch (err) {
      throw ledger.asLedgerError(err);
    } finally {
      await ledger.close();
    }
  } catch (err) {
    add("ledger", false, message(err));
  }
}
