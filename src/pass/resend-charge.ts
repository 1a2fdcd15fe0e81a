import type { Product } from "../config";
import { buildPayload, ProductFileError, toSendable } from "../delivery/payload";
import { formatAmount, renderEmail } from "../delivery/templates";
import { downloadVars } from "../downloads/links";
import { licenseVar } from "../licenses/issue";
import { EXIT, PaidupError, UsageError } from "../errors";
import type { PassDeps } from "./pass-deps";

// `paidup resend <charge> [--to <email>]`: the charge's products again, in new emails with fresh
// download links. Run n uses the key `paidup-<charge>-r<n>` and links made for `r<n>`, so a run
// repeated after a crash renders the same email and Resend recognises it instead of sending twice.

const RESENDABLE = new Set(["delivered", "resolved", "bounced"]);
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;.]+(?:\.[^\s@<>",;.]+)*\.[A-Za-z]{2,}$/;

export interface ResendOutcome {
  run: number;
  to: string;
  emails: { product: string; emailId: string; key: string }[];
}

/** A send Resend refused or that failed: attention needed (exit 1), recorded in the history. */
export class ResendFailed extends PaidupError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.attention, hint);
  }
}

export function resendKey(charge: string, run: number, product: Product, first: boolean): string {
  return first ? `paidup-${charge}-r${run}` : `paidup-${charge}-r${run}-${product.key}`;
}

export async function resendCharge(deps: PassDeps, chargeId: string, toFlag: string | undefined): Promise<ResendOutcome> {
  const { ledger, config, clock } = deps;
  const row = await ledger.getCharge(chargeId);
  if (!row) throw new UsageError(`no charge ${chargeId} in the ledger`, "`paidup status` and `paidup show` list what the ledger knows");
  if (!RESENDABLE.has(row.state)) {
    throw new UsageError(`${chargeId} is ${row.state}; only a delivered, resolved or bounced charge can be re-sent`, "a charge not delivered yet is sent by the passes: `paidup retry` puts it back in line");
  }
  const after = await ledger.afterDeliveryOf(chargeId);
  if (after.length > 0) {
    throw new UsageError(`${chargeId} was ${after.map((a) => a.event).join(" and ")} after delivery; it is not re-sent and its links stay revoked`, `\`paidup evidence ${chargeId}\` shows what was delivered`);
  }
  const to = toFlag?.trim() || row.email;
  if (!to) throw new UsageError(`${chargeId} has no email address on record`, "give one with --to <email>");
  if (toFlag !== undefined && !ADDRESS.test(to)) throw new UsageError(`--to "${toFlag}" is not an email address`);
  const keys = (row.product ?? "").split(",").filter(Boolean);
  const products = keys.map((k) => config.products.find((p) => p.key === k));
  const unknown = keys.filter((_k, i) => !products[i]);
  if (keys.length === 0 || unknown.length > 0) {
    throw new UsageError(`${chargeId} was delivered as product ${row.product ?? "(none)"}, which the config no longer has`, "restore the product in the config file, or deliver by hand");
  }
  if (!deps.mailer) throw new Error("resendCharge needs a mailer");

  const run = await ledger.nextResendNumber(chargeId);
  const outcome: ResendOutcome = { run, to, emails: [] };
  for (const [i, product] of (products as Product[]).entries()) {
    const key = resendKey(chargeId, run, product, i === 0);
    const note = `r${run}: ${product.key} to ${to}`;
    const downloads = product.downloads && config.publicUrl
      ? await downloadVars(ledger, { publicUrl: config.publicUrl, charge: chargeId, product: product.key, downloads: product.downloads, source: `r${run}` }, clock.now())
      : undefined;
    // The same key the first email carried (made now only for a purchase that predates the product's license).
    const license = product.license
      ? await licenseVar(ledger, { charge: chargeId, product: product.key, license: product.license, quantity: 1, customerId: null }, clock.now())
      : undefined;
    const rendered = renderEmail(product, {
      name: row.name ?? "", email: to, product: product.name, charge: chargeId,
      amount: formatAmount(row.amount, row.currency), links: product.links, downloads, license,
    });
    let payload;
    try {
      payload = toSendable(buildPayload(product, rendered, to, config.from, config.replyTo));
    } catch (err) {
      if (err instanceof ProductFileError) throw new UsageError(err.message, "stage the product file, then run resend again");
      throw err;
    }
    await deps.mailer.waitTurn();
    const result = await deps.mailer.send(payload, key);
    if (!result.ok) {
      await ledger.recordResendFailed(chargeId, result.reason, note, clock.now());
      const hint = result.outcomeUnknown
        ? `the email may have gone; run \`paidup resend ${chargeId}${toFlag ? ` --to ${to}` : ""}\` again within 24 hours and Resend recognises it`
        : "fix the cause, then run resend again";
      throw new ResendFailed(`Resend did not accept the re-send of ${chargeId} (${product.key}): ${result.reason}`, hint);
    }
    await ledger.recordResent({ charge: chargeId, emailId: result.emailId, note, to: toFlag !== undefined ? to : null, now: clock.now() });
    // Fresh links start their own expiry from this acceptance.
    if (downloads) await ledger.acceptLinks(chargeId, product.key, `r${run}`, clock.now());
    outcome.emails.push({ product: product.key, emailId: result.emailId, key });
  }
  return outcome;
}
