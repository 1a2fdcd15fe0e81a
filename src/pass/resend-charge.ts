import type { Product } from "../config";
import { buildPayload, ProductFileError, StoredPayload, toSendable } from "../delivery/payload";
import { formatAmount, renderEmail } from "../delivery/templates";
import { downloadVars } from "../downloads/links";
import { licenseVar } from "../licenses/issue";
import { EXIT, PaidupError, UsageError } from "../errors";
import { SAFE_REPLAY_MS } from "../ledger";
import type { ChargeRow, NewResendRow, ResendRunRow } from "../ledger";
import type { PassDeps } from "./pass-deps";

// `paidup resend <charge> [--to <email>]`: the charge's products again, in new emails with fresh
// download links. Run n uses the key `paidup-<charge>-r<n>` and links made for `r<n>`; its emails
// are rendered once and stored before the first send, so a run that failed or whose outcome is
// unknown is completed by the next `resend` with the same keys and bytes (Resend recognises a
// repeat instead of sending twice), and only a completed run lets the next one start. A product
// whose answer was lost more than 23 h ago cannot be repeated safely (Resend forgets its keys
// after 24 h): it is closed as unknown, never sent again, and the owner is told (exit 1).

const RESENDABLE = new Set(["delivered", "resolved", "bounced"]);
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;.]+(?:\.[^\s@<>",;.]+)*\.[A-Za-z]{2,}$/;

export interface ResendOutcome {
  run: number;
  to: string;
  emails: { product: string; emailId: string; key: string }[];
  /** Products of the run whose outcome stayed unknown past Resend's window: closed now, not sent again. */
  unknown: string[];
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
  const { ledger, clock } = deps;
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
  if (!deps.mailer) throw new Error("resendCharge needs a mailer");

  // A run Resend has not accepted every product of is completed first, with its stored payloads:
  // the buyer gets each product once per run, and `n` moves on only once the run is complete.
  let runRows = await ledger.pendingResendRun(chargeId);
  if (runRows) {
    const pending = runRows[0] as ResendRunRow;
    if (toFlag !== undefined && to.toLowerCase() !== pending.recipient.toLowerCase()) {
      throw new UsageError(
        `r${pending.run} of ${chargeId} to ${pending.recipient} is not complete; it is completed before a re-send to another address`,
        `run \`paidup resend ${chargeId}\` to complete it, then \`paidup resend ${chargeId} --to ${to}\``,
      );
    }
  } else {
    const run = await ledger.nextResendNumber(chargeId);
    const rows = await renderRun(deps, row, run, to, toFlag !== undefined);
    if (!(await ledger.storeResendRun(chargeId, run, rows, clock.now()))) {
      throw new UsageError(`another \`paidup resend ${chargeId}\` started r${run} at the same moment`, "let it finish, then look with `paidup show`");
    }
    runRows = (await ledger.pendingResendRun(chargeId)) as ResendRunRow[];
  }

  const first = runRows[0] as ResendRunRow;
  const outcome: ResendOutcome = { run: first.run, to: first.recipient, emails: [], unknown: [] };
  for (const r of runRows) {
    if (r.email_id !== null || r.closed_unknown_at !== null) continue; // accepted (or closed) by an earlier try of this run
    const note = `r${r.run}: ${r.product} to ${r.recipient}`;
    // The run's payloads are stored just before its first send: its keys are at least this old.
    const replayUntil = r.outcome_unknown === 1 ? r.created_at + SAFE_REPLAY_MS : Infinity;
    if (clock.now() >= replayUntil) {
      await ledger.closeUnknownResend({ charge: chargeId, run: r.run, product: r.product, note, now: clock.now() });
      outcome.unknown.push(r.product);
      continue;
    }
    let payload;
    try {
      payload = toSendable(JSON.parse(r.payload) as StoredPayload);
    } catch (err) {
      if (err instanceof ProductFileError) throw new UsageError(`${err.message}; r${r.run} repeats the bytes of its first try`, "put the product file back as it was, then run resend again");
      throw err;
    }
    await deps.mailer.waitTurn();
    const result = await deps.mailer.send(payload, r.send_key, replayUntil);
    if (!result.ok) {
      await ledger.recordResendFailed({ charge: chargeId, run: r.run, product: r.product, error: result.reason, outcomeUnknown: result.outcomeUnknown, note, now: clock.now() });
      const hint = result.outcomeUnknown
        ? `the email may have gone; run \`paidup resend ${chargeId}\` again within 24 hours and Resend recognises it`
        : "fix the cause, then run resend again: it completes this run";
      throw new ResendFailed(`Resend did not accept the re-send of ${chargeId} (${r.product}, r${r.run}): ${result.reason}`, hint);
    }
    // A run asked with --to makes its address the charge's, for this and later sends.
    await ledger.recordResent({ charge: chargeId, run: r.run, product: r.product, emailId: result.emailId, note, to: r.corrected === 1 ? r.recipient : null, now: clock.now() });
    // Fresh links start their own expiry from this acceptance (none to mark for a product without downloads).
    await ledger.acceptLinks(chargeId, r.product, `r${r.run}`, clock.now());
    outcome.emails.push({ product: r.product, emailId: result.emailId, key: r.send_key });
  }
  return outcome;
}

/** A new run's email per product, rendered once (fresh links made for `r<n>`), to be stored before any send. */
async function renderRun(deps: PassDeps, row: ChargeRow, run: number, to: string, corrected: boolean): Promise<NewResendRow[]> {
  const { ledger, config, clock } = deps;
  const chargeId = row.id;
  const keys = (row.product ?? "").split(",").filter(Boolean);
  const products = keys.map((k) => config.products.find((p) => p.key === k));
  const unknown = keys.filter((_k, i) => !products[i]);
  if (keys.length === 0 || unknown.length > 0) {
    throw new UsageError(`${chargeId} was delivered as product ${row.product ?? "(none)"}, which the config no longer has`, "restore the product in the config file, or deliver by hand");
  }
  const rows: NewResendRow[] = [];
  for (const [i, product] of (products as Product[]).entries()) {
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
    try {
      const payload = buildPayload(product, rendered, to, config.from, config.replyTo);
      rows.push({ product: product.key, position: i, send_key: resendKey(chargeId, run, product, i === 0), recipient: to, corrected, payload: JSON.stringify(payload) });
    } catch (err) {
      if (err instanceof ProductFileError) throw new UsageError(err.message, "stage the product file, then run resend again");
      throw err;
    }
  }
  return rows;
}
