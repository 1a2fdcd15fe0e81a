import { systemClock } from "../clock";
import { loadEnv, requireStripeKey } from "../config";
import { openLookContext } from "./context";
import { isoMs } from "../duration";
import { EXIT, ExitCode, PaidupError } from "../errors";
import type Stripe from "stripe";
import { judge } from "../pass/eligibility";
import { redact } from "../redact";
import { missingEntry, stuckEntry, StuckEntry } from "../pass/report";
import { formatAmount } from "../delivery/templates";
import { formatAge } from "./format";
import { chargeFacts, chargeFromStripe } from "./stripe-lookup";

export interface AttemptEntry {
  at: string;
  outcome: string;
  emailId: string | null;
  error: string | null;
  note: string | null;
}

/** One product's delivery: a charge that bought several products has one email per product. */
export interface ProductEntry {
  key: string;
  state: string;
  emailId: string | null;
}

/** What Resend said about an email of this charge (its webhooks, or a pass asking `emails.get`). */
export interface EmailEventEntry {
  at: string;
  type: string;
  emailId: string;
  detail: string | null;
  source: string;
}

/**
 * The contract's `show --json`: a stuck entry whose `attempts` is the history, oldest first, plus
 * each product's delivery and `emailEvents`, Resend's word on the emails sent, oldest first.
 */
export type ShowEntry = Omit<StuckEntry, "attempts"> & { attempts: AttemptEntry[]; products: ProductEntry[]; emailEvents?: EmailEventEntry[] };

interface StripeFacts {
  status: string;
  paid: boolean;
  captured: boolean;
  refunded: boolean;
  disputed: boolean;
}

export async function showCommand(chargeId: string, flags: { json?: boolean }): Promise<ExitCode> {
  const env = loadEnv();
  // Stripe's view is a bonus here: without a key, show works from the ledger alone.
  const ctx = await openLookContext(env, env.stripeSecretKey ? requireStripeKey(env) : undefined);
  try {
    const row = await ctx.ledger.getCharge(chargeId);
    if (!row) {
      // No pass has recorded it (Stripe listed it late): Stripe's facts are all there is.
      const charge = await chargeFromStripe(ctx.stripe, chargeId);
      const entry: ShowEntry = { ...unrecordedEntry(charge, Number(await ctx.ledger.getMeta("start_line"))), attempts: [], products: [] };
      process.stdout.write(flags.json ? JSON.stringify(entry, null, 2) + "\n" : human(entry, stripeFacts(charge), null, [], systemClock.now()));
      return EXIT.ok;
    }
    const history = await ctx.ledger.attempts(chargeId);
    const attempts = history.map((a) => ({ at: isoMs(a.at), outcome: a.outcome, emailId: a.email_id, error: a.error, note: a.note }));
    const products = (await ctx.ledger.deliveries(chargeId)).map((d) => ({ key: d.product, state: d.state, emailId: d.email_id }));
    const emailEvents = (await ctx.ledger.emailEventsOf(chargeId)).map((e) => ({ at: isoMs(e.at), type: e.type, emailId: e.email_id, detail: e.detail, source: e.source }));
    const entry: ShowEntry = { ...stuckEntry(row), attempts, products, emailEvents };
    if (flags.json) {
      process.stdout.write(JSON.stringify(entry, null, 2) + "\n");
      return EXIT.ok;
    }
    let stripe: StripeFacts | string = "not asked (no STRIPE_SECRET_KEY)";
    if (ctx.stripe) {
      try {
        const c = await ctx.stripe.retrieveCharge(chargeId);
        stripe = c ? stripeFacts(c) : "Stripe does not know this charge";
      } catch (err) {
        // The ledger's side is still worth printing when Stripe cannot be asked.
        stripe = `unavailable: ${redact(err instanceof PaidupError || err instanceof Error ? err.message : String(err))}`;
      }
    }
    process.stdout.write(human(entry, stripe, row.email_id, history.map((a) => a.product), systemClock.now()));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function stripeFacts(c: Stripe.Charge): StripeFacts {
  return { status: c.status, paid: c.paid, captured: c.captured, refunded: c.refunded, disputed: c.disputed };
}

/** A charge with no ledger row: `missing` if a pass would deliver it, else what a pass would record. */
function unrecordedEntry(charge: Stripe.Charge, startLine: number): Omit<StuckEntry, "attempts"> {
  const facts = chargeFacts(charge);
  const { attempts: _none, ...missing } = missingEntry({ ...facts, email: facts.email ?? null });
  const verdict = judge(charge, startLine);
  return verdict.kind === "eligible" ? missing : { ...missing, state: verdict.state, reason: `no pass has recorded it; it would be ${verdict.state}: ${verdict.reason}` };
}

const yesNo = (b: boolean) => (b ? "yes" : "no");

function human(e: ShowEntry, stripe: StripeFacts | string, emailId: string | null, attemptProducts: (string | null)[], now: number): string {
  const several = e.products.length > 1;
  const lines = [
    `charge    ${e.charge}`,
    `state     ${e.state}${e.reason ? ` (${e.reason})` : ""}${emailId && !several ? `, email id ${emailId}` : ""}`,
    `amount    ${formatAmount(e.amount, e.currency)}`,
    `email     ${e.email ?? "-"}`,
    `product   ${e.product ?? "-"}`,
    `created   ${e.created} (${formatAge(now - Date.parse(e.created))} ago)`,
    `stripe    ${typeof stripe === "string" ? stripe : `status ${stripe.status}, paid ${yesNo(stripe.paid)}, captured ${yesNo(stripe.captured)}, refunded ${yesNo(stripe.refunded)}, disputed ${yesNo(stripe.disputed)}`}`,
  ];
  // One line per product when the purchase bought several: each is its own email.
  if (several) for (const p of e.products) lines.push(`  ${p.key}  ${p.state}${p.emailId ? `, email id ${p.emailId}` : ""}`);
  lines.push(`attempts  ${e.attempts.length === 0 ? "none" : e.attempts.length}`);
  for (const [i, a] of e.attempts.entries()) {
    const product = several ? attemptProducts[i] : null;
    const detail = [a.emailId && `email id ${a.emailId}`, a.error && `error: ${a.error}`, a.note && `note: ${a.note}`].filter(Boolean).join("; ");
    lines.push(`  ${a.at}  ${product ? `${product}: ` : ""}${a.outcome}${detail ? `  ${detail}` : ""}`);
  }
  if (e.emailEvents && e.emailEvents.length > 0) {
    lines.push(`resend    ${e.emailEvents.length} email event(s)`);
    for (const ev of e.emailEvents) lines.push(`  ${ev.at}  ${ev.type}  email id ${ev.emailId}${ev.detail ? `; ${ev.detail}` : ""}${ev.source === "poll" ? " (polled)" : ""}`);
  }
  return lines.join("\n") + "\n";
}
