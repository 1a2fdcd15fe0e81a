import { systemClock } from "../clock";
import { loadEnv, requireStripeKey } from "../config";
import { openLookContext } from "./context";
import { isoMs } from "../duration";
import { EXIT, ExitCode, PaidupError } from "../errors";
import type Stripe from "stripe";
import type { AttemptRow, ChargeRow, Ledger } from "../ledger";
import { judge } from "../pass/eligibility";
import { redact } from "../redact";
import { missingEntry, stuckEntry, StuckEntry } from "../pass/report";
import { formatAmount } from "../delivery/templates";
import { chargeIdFor } from "./charge-id";
import { formatAge } from "./format";
import { chargeFacts, chargeFromStripe } from "./stripe-lookup";
import { catalogLoader } from "./catalog-loader";
import { notTheShops } from "../pass/missing-charges";
import type { StripeSource } from "../stripe/stripe-source";
import { STATE } from "../states";

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

/** The ledger's side of a charge as `show` prints it (`lookup` prints the same for each charge). */
export async function ledgerEntry(ledger: Ledger, row: ChargeRow): Promise<{ entry: Omit<ShowEntry, "stripe" | "stripeNote">; history: AttemptRow[] }> {
  const history = await ledger.attempts(row.id);
  const attempts = history.map((a) => ({ at: isoMs(a.at), outcome: a.outcome, emailId: a.email_id, error: a.error, note: a.note }));
  const products = (await ledger.deliveries(row.id)).map((d) => ({ key: d.product, state: d.state, emailId: d.email_id }));
  const emailEvents = (await ledger.emailEventsOf(row.id)).map((e) => ({ at: isoMs(e.at), type: e.type, emailId: e.email_id, detail: e.detail, source: e.source }));
  return { entry: { ...stuckEntry(row), attempts, products, emailEvents }, history };
}

/** Stripe's view of the charge now, as `show` prints it (text and --json alike). */
export interface StripeFacts {
  status: string;
  paid: boolean;
  captured: boolean;
  refunded: boolean;
  amountRefunded: number;
  disputed: boolean;
}

/**
 * The contract's `show --json`: a stuck entry whose `attempts` is the history, oldest first, plus
 * each product's delivery, `emailEvents` (Resend's word on the emails sent, oldest first) and
 * `stripe` (null when Stripe was not asked or could not answer; `stripeNote` then says why).
 */
export type ShowEntry = Omit<StuckEntry, "attempts"> & {
  attempts: AttemptEntry[];
  products: ProductEntry[];
  emailEvents?: EmailEventEntry[];
  stripe: StripeFacts | null;
  stripeNote?: string;
};

export async function showCommand(id: string, flags: { json?: boolean }): Promise<ExitCode> {
  const env = loadEnv();
  // Stripe's view is a bonus here: without a key, show works from the ledger alone.
  const ctx = await openLookContext(env, env.stripeSecretKey ? requireStripeKey(env) : undefined);
  try {
    // Operators paste the PaymentIntent id the dashboard shows first: show its charge.
    const { chargeId, via } = await chargeIdFor(id, ctx.stripe);
    if (via) process.stderr.write(`${via} is a PaymentIntent; showing its charge ${chargeId}\n`);
    const row = await ctx.ledger.getCharge(chargeId);
    if (!row) {
      // No pass has recorded it (Stripe listed it late): Stripe's facts are all there is.
      const charge = await chargeFromStripe(ctx.stripe, chargeId);
      const startLine = Number(await ctx.ledger.getMeta("start_line"));
      const entry: ShowEntry = { ...(await unrecordedEntry(charge, startLine, ctx.stripe, env.configPath)), attempts: [], products: [], stripe: stripeFacts(charge) };
      process.stdout.write(flags.json ? JSON.stringify(entry, null, 2) + "\n" : human(entry, null, [], systemClock.now()));
      return EXIT.ok;
    }
    const { entry: ledgerSide, history } = await ledgerEntry(ctx.ledger, row);
    let stripe: StripeFacts | null = null;
    let stripeNote: string | undefined = "not asked (no STRIPE_SECRET_KEY)";
    if (ctx.stripe) {
      try {
        const c = await ctx.stripe.retrieveCharge(chargeId);
        if (c) [stripe, stripeNote] = [stripeFacts(c), undefined];
        else stripeNote = "Stripe does not know this charge";
      } catch (err) {
        // The ledger's side is still worth printing when Stripe cannot be asked.
        stripeNote = `unavailable: ${redact(err instanceof PaidupError || err instanceof Error ? err.message : String(err))}`;
      }
    }
    const entry: ShowEntry = { ...ledgerSide, stripe, ...(stripeNote === undefined ? {} : { stripeNote }) };
    process.stdout.write(flags.json ? JSON.stringify(entry, null, 2) + "\n" : human(entry, row.email_id, history.map((a) => a.product), systemClock.now()));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function stripeFacts(c: Stripe.Charge): StripeFacts {
  return { status: c.status, paid: c.paid, captured: c.captured, refunded: c.refunded, amountRefunded: c.amount_refunded, disputed: c.disputed };
}

/**
 * A charge with no ledger row: `missing` if a pass would deliver it, else what a pass would record
 * (judged as `status` judges it: eligibility, then the ignore rules and the catalog).
 */
async function unrecordedEntry(charge: Stripe.Charge, startLine: number, stripe: StripeSource | null, configPath: string): Promise<Omit<StuckEntry, "attempts">> {
  const facts = chargeFacts(charge);
  const { attempts: _none, ...missing } = missingEntry({ ...facts, email: facts.email ?? null });
  const wouldBe = (state: string, reason: string) => ({ ...missing, state, reason: `no pass has recorded it; it would be ${state}: ${reason}` });
  const verdict = judge(charge, startLine);
  if (verdict.kind !== "eligible") return wouldBe(verdict.state, verdict.reason);
  const skip = stripe ? await notTheShops(charge, stripe, startLine, catalogLoader(configPath)) : null;
  return skip ? wouldBe(STATE.skipped, skip) : missing;
}

const yesNo = (b: boolean) => (b ? "yes" : "no");

function stripeLine(s: StripeFacts | null, note: string | undefined, currency: string): string {
  if (!s) return note ?? "-";
  const refunded = s.refunded ? "yes" : s.amountRefunded > 0 ? `partly (${formatAmount(s.amountRefunded, currency)})` : "no";
  return `status ${s.status}, paid ${yesNo(s.paid)}, captured ${yesNo(s.captured)}, refunded ${refunded}, disputed ${yesNo(s.disputed)}`;
}

function human(e: ShowEntry, emailId: string | null, attemptProducts: (string | null)[], now: number): string {
  const several = e.products.length > 1;
  const lines = [
    `charge    ${e.charge}`,
    `state     ${e.state}${e.reason ? ` (${e.reason})` : ""}${emailId && !several ? `, email id ${emailId}` : ""}`,
    `amount    ${formatAmount(e.amount, e.currency)}`,
    `email     ${e.email ?? "-"}`,
    `product   ${e.product ?? "-"}`,
    `created   ${e.created} (${formatAge(now - Date.parse(e.created))} ago)`,
    `stripe    ${stripeLine(e.stripe, e.stripeNote, e.currency)}`,
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
