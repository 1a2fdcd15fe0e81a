import type Stripe from "stripe";
import { Clock, systemClock } from "../clock";
import { RuntimeFailure, UsageError } from "../errors";
import { debugEnabled, log } from "../log";
import { redact } from "../redact";
import { InvoiceFacts, invoiceFacts, paidBefore } from "./invoices";

// Everything paidup reads from Stripe goes through here, and every Stripe error is classified
// here once: a rejected key is a configuration error (exit 2), the rest is runtime (exit 3).

const REQUEST_TIMEOUT_MS = 20_000;
const PAGE_SIZE = 100;

export interface CheckoutFacts {
  sessionId: string;
  paymentLink: string | null;
  prices: string[];
  products: string[];
  /** Each line item's quantity, by its price id and by its product id. */
  quantities: Record<string, number>;
  metadata: Record<string, string>;
  email: string | null;
  name: string | null;
}

export function stripeClient(key: string, apiBase?: string): Stripe {
  const options: Stripe.StripeConfig = { timeout: REQUEST_TIMEOUT_MS, maxNetworkRetries: 2, telemetry: false };
  if (apiBase) {
    let url: URL;
    try {
      url = new URL(apiBase);
    } catch {
      throw new UsageError(`STRIPE_API_BASE "${apiBase}" is not a URL`);
    }
    options.host = url.hostname;
    options.protocol = url.protocol === "http:" ? "http" : "https";
    options.port = url.port ? Number(url.port) : url.protocol === "http:" ? 80 : 443;
  }
  // Loaded here, not at the top: commands that never ask Stripe start without its SDK.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const StripeSdk = require("stripe") as typeof Stripe;
  return new StripeSdk(key, options);
}

export function keyMode(key: string): "test" | "live" {
  return /^(sk|rk)_live_/.test(key) ? "live" : "test";
}

/** Turns any Stripe SDK error into one of paidup's, without ever echoing the key. */
export function asStripeFailure(err: unknown, op: string): Error {
  const e = err as { type?: string; message?: string; statusCode?: number };
  const message = redact(e.message ?? String(err));
  switch (e.type) {
    case "StripeAuthenticationError":
      return new UsageError(`Stripe rejected STRIPE_SECRET_KEY while trying to ${op}`, "check the key in the environment or .env");
    case "StripePermissionError":
      return new UsageError(`STRIPE_SECRET_KEY may not ${op}: ${message}`, "give the restricted key read access to charges, customers, checkout sessions, invoices and subscriptions");
    case "StripeConnectionError":
      return new RuntimeFailure(`Stripe unreachable while trying to ${op}: ${message}`, "nothing was lost; the next pass picks up");
    default:
      return new RuntimeFailure(`Stripe failed while trying to ${op}${e.statusCode ? ` (HTTP ${e.statusCode})` : ""}: ${message}`, "nothing was lost; the next pass picks up");
  }
}

/** The SDK retries 5xx and dropped connections itself, but never a 429: that one is ours. */
const RATE_LIMIT_RETRIES = 4;

/**
 * Where a charge's disputes stand (`disputed` on the charge stays true for good): `won` when every
 * dispute ended in the shop's favour (`won`, `warning_closed`), `lost` when one was lost, else `open`.
 */
export type DisputeOutcome = "won" | "lost" | "open";

type ChargePage = Stripe.Response<Stripe.ApiList<Stripe.Charge>>;

/** One walk down Stripe's charge list, which learns Stripe's clock from the first page. */
export class ChargeWalk implements AsyncIterable<Stripe.Charge> {
  /** Stripe's clock when it answered the first page (its `Date` header), unix seconds. */
  stripeNow: number | null = null;
  /** The newest `created` walked so far, unix seconds. */
  newestCreated: number | null = null;

  constructor(private readonly fetchPage: (startingAfter: string | undefined) => Promise<ChargePage>) {}

  /** How far the walk is known to reach on Stripe's clock: its `Date`, else its newest charge. */
  get reach(): number | null {
    return this.stripeNow ?? this.newestCreated;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Stripe.Charge> {
    let startingAfter: string | undefined;
    for (;;) {
      // Paging by hand (rather than the SDK's auto-pagination) lets us count requests, read the
      // Date header and classify a failure on any page the same way.
      const page = await this.fetchPage(startingAfter);
      if (startingAfter === undefined) this.stripeNow = stripeDate(page);
      if (debugEnabled()) log.debug("stripe listed a page of charges", { after: startingAfter ?? null, count: page.data.length, hasMore: page.has_more, stripeNow: this.stripeNow });
      for (const charge of page.data) {
        if (this.newestCreated === null || charge.created > this.newestCreated) this.newestCreated = charge.created;
        yield charge;
      }
      const last = page.data[page.data.length - 1];
      if (!page.has_more || !last) return;
      startingAfter = last.id;
    }
  }
}

/** The `Date` header of a Stripe response in unix seconds, or null if absent or unreadable. */
function stripeDate(response: { lastResponse?: { headers?: Record<string, string> } }): number | null {
  const ms = Date.parse(response.lastResponse?.headers?.date ?? "");
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

export class StripeSource {
  requests = 0;
  /** Told about reads that failed without failing the pass. */
  onWarning?: (message: string) => void;

  constructor(private readonly stripe: Stripe, private readonly clock: Clock = systemClock) {}

  /**
   * Charges created at or after `gte` (and before `lt`, if given), newest first, one page of 100
   * in memory at a time. No upper bound on the host's clock: a host running slow would cut off
   * charges Stripe has already made. The set is still fixed by the first page, since the cursor
   * walks towards older charges and new ones appear before it.
   */
  listCharges(window: { gte: number; lt?: number }): ChargeWalk {
    return new ChargeWalk((startingAfter) =>
      this.call("list charges", () =>
        this.stripe.charges.list({ created: { gte: window.gte, ...(window.lt === undefined ? {} : { lt: window.lt }) }, limit: PAGE_SIZE, starting_after: startingAfter }),
      ),
    );
  }

  /**
   * Paid charges created in [gte, lte], counted from one page of 100: `atLeast` when Stripe has
   * more. Enough to tell an operator what a start line far back takes in, for one request.
   */
  async countPaid(window: { gte: number; lte: number }): Promise<{ count: number; atLeast: boolean }> {
    const page = await this.call("list charges", () => this.stripe.charges.list({ created: { gte: Math.max(0, window.gte), lte: window.lte }, limit: PAGE_SIZE }));
    const count = page.data.filter((c) => c.status === "succeeded" && c.paid && c.captured && !c.refunded).length;
    return { count, atLeast: page.has_more };
  }

  /** The charge as Stripe has it now, or null if Stripe does not know it. */
  async retrieveCharge(id: string): Promise<Stripe.Charge | null> {
    try {
      return await this.call(`retrieve charge ${id}`, () => this.stripe.charges.retrieve(id), true);
    } catch (err) {
      if ((err as { code?: string }).code === "resource_missing") return null;
      throw asStripeFailure(err, `retrieve charge ${id}`);
    }
  }

  async customerContact(id: string): Promise<{ email: string | null; name: string | null }> {
    const c = await this.call(`retrieve customer ${id}`, () => this.stripe.customers.retrieve(id));
    if ("deleted" in c && c.deleted) return { email: null, name: null };
    const customer = c as Stripe.Customer;
    return { email: customer.email ?? null, name: customer.name ?? null };
  }

  /** The Checkout Session (or Payment Link session) behind a payment intent, with what it sold. */
  async checkoutFacts(paymentIntent: string): Promise<CheckoutFacts | null> {
    const sessions = await this.call("list checkout sessions", () => this.stripe.checkout.sessions.list({ payment_intent: paymentIntent, limit: 1 }));
    const session = sessions.data[0];
    if (!session) return null;
    const items = await this.call("list checkout line items", () => this.stripe.checkout.sessions.listLineItems(session.id, { limit: 100 }));
    const prices: string[] = [];
    const products: string[] = [];
    const quantities: Record<string, number> = {};
    for (const item of items.data) {
      if (!item.price) continue;
      const product = typeof item.price.product === "string" ? item.price.product : item.price.product.id;
      prices.push(item.price.id);
      products.push(product);
      for (const id of [item.price.id, product]) quantities[id] = (quantities[id] ?? 0) + (item.quantity ?? 1);
    }
    return {
      sessionId: session.id,
      paymentLink: typeof session.payment_link === "string" ? session.payment_link : (session.payment_link?.id ?? null),
      prices,
      products,
      quantities,
      metadata: (session.metadata ?? {}) as Record<string, string>,
      email: session.customer_details?.email ?? null,
      name: session.customer_details?.name ?? null,
    };
  }

  /**
   * The invoice a payment intent paid, with its lines, or null when it paid none (a Checkout
   * Session, a Payment Link, an API charge). One request: the invoice comes expanded on its
   * invoice payment, with its first 10 lines; more lines cost one more.
   */
  async invoiceOf(paymentIntent: string): Promise<InvoiceFacts | null> {
    const payments = await this.readIfAllowed("invoices", "list invoice payments", () =>
      this.stripe.invoicePayments.list({ payment: { type: "payment_intent", payment_intent: paymentIntent }, limit: 10, expand: ["data.invoice"] }));
    // A key that may not read invoices (the contract's minimal restricted key): judged as before, without one.
    if (!payments) return null;
    const payment = payments.data.find((p) => p.status === "paid") ?? payments.data[0];
    if (!payment) return null;
    const ref = payment.invoice;
    const invoice = typeof ref === "string" || ref.deleted ? await this.call(`retrieve invoice`, () => this.stripe.invoices.retrieve(typeof ref === "string" ? ref : ref.id)) : ref;
    let lines = invoice.lines.data;
    if (invoice.lines.has_more) {
      const all = await this.call(`list lines of invoice ${invoice.id}`, () => this.stripe.invoices.listLineItems(invoice.id, { limit: 100 }));
      lines = all.data;
    }
    return invoiceFacts(invoice, lines);
  }

  /**
   * Whether `invoice` is its subscription's first paid with money, so that a product it sells is
   * delivered with it rather than skipped as a renewal. A subscription begun before `startLine`
   * was sold before paidup took over: none of its invoices is "first" here.
   */
  async isFirstPaidInvoice(invoice: InvoiceFacts, startLine: number): Promise<boolean> {
    if (!invoice.subscription) return false;
    const subId = invoice.subscription;
    if (invoice.billingReason === "subscription_create" && invoice.amountPaid > 0) return true;
    const sub = await this.readIfAllowed("subscriptions", `retrieve subscription ${subId}`, () => this.stripe.subscriptions.retrieve(subId));
    // Without read access to subscriptions: only the subscription's own first invoice counts, never twice.
    if (!sub) return false;
    if (sub.start_date < startLine) return false;
    let startingAfter: string | undefined;
    for (;;) {
      const page = await this.call(`list invoices of ${subId}`, () =>
        this.stripe.invoices.list({ subscription: subId, status: "paid", created: { lte: invoice.created }, limit: PAGE_SIZE, starting_after: startingAfter }));
      if (paidBefore(invoice, page.data)) return false;
      const last = page.data[page.data.length - 1];
      if (!page.has_more || !last) return true;
      startingAfter = last.id;
    }
  }

  /**
   * A read the key may not be allowed to make (a restricted key from before invoices mattered):
   * null and one warning per kind instead of a failed pass. Every other failure is classified as usual.
   */
  private async readIfAllowed<T>(what: string, op: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await this.call(op, fn, true);
    } catch (err) {
      if ((err as { type?: string }).type !== "StripePermissionError") throw asStripeFailure(err, op);
      if (!this.warnedUnreadable.has(what)) {
        this.warnedUnreadable.add(what);
        this.onWarning?.(`STRIPE_SECRET_KEY may not read ${what}, so charges paid through an invoice cannot be told from other sales; give the restricted key read access to ${what}`);
      }
      return null;
    }
  }

  private readonly warnedUnreadable = new Set<string>();

  async latestChargeOfPaymentIntent(id: string): Promise<string | null> {
    const pi = await this.call(`retrieve payment intent ${id}`, () => this.stripe.paymentIntents.retrieve(id));
    const latest = pi.latest_charge;
    return typeof latest === "string" ? latest : (latest?.id ?? null);
  }

  /**
   * Refund and dispute events created at or after `gte` (unix seconds), oldest first. Stripe keeps
   * events 30 days; a pass reads the few since its last look (one request when there are none).
   */
  async refundAndDisputeEvents(gte: number): Promise<Stripe.Event[]> {
    const out: Stripe.Event[] = [];
    let startingAfter: string | undefined;
    for (;;) {
      const page = await this.call("list events", () =>
        this.stripe.events.list({ types: ["charge.refunded", "charge.dispute.created", "charge.dispute.closed"], created: { gte }, limit: PAGE_SIZE, starting_after: startingAfter }),
      );
      out.push(...page.data);
      const last = page.data[page.data.length - 1];
      if (!page.has_more || !last) break;
      startingAfter = last.id;
    }
    return out.reverse();
  }

  /** The charge's disputes, newest first. */
  async disputesOf(chargeId: string): Promise<Stripe.Dispute[]> {
    const list = await this.call(`list disputes of ${chargeId}`, () => this.stripe.disputes.list({ charge: chargeId, limit: 10 }));
    return list.data;
  }

  /** Saves evidence on a dispute as a draft (submit: false): the owner reviews and submits it. */
  async saveDisputeEvidence(disputeId: string, evidence: Stripe.DisputeUpdateParams.Evidence): Promise<void> {
    try {
      await this.call(`update dispute ${disputeId}`, () => this.stripe.disputes.update(disputeId, { evidence, submit: false }), true);
    } catch (err) {
      if ((err as { type?: string }).type === "StripePermissionError") {
        throw new UsageError(
          `STRIPE_SECRET_KEY may not write to disputes (a read-only restricted key); nothing was written to dispute ${disputeId}`,
          "give the key Disputes: write access for --attach, or paste the evidence `paidup evidence` prints into Stripe's dashboard",
        );
      }
      throw asStripeFailure(err, `update dispute ${disputeId}`);
    }
  }

  /**
   * Where a disputed charge's disputes stand. A key without read access to disputes gets `open`
   * (the charge stays skipped, as before) and a warning, rather than a failed pass.
   */
  async disputeOutcome(chargeId: string): Promise<DisputeOutcome> {
    let disputes: Stripe.Dispute[];
    try {
      disputes = await this.disputesOf(chargeId);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      this.onWarning?.(`cannot read the disputes of ${chargeId}; it stays skipped until the key may read disputes: ${err.message}`);
      return "open";
    }
    if (disputes.some((d) => d.status === "lost")) return "lost";
    const won = disputes.length > 0 && disputes.every((d) => d.status === "won" || d.status === "warning_closed");
    return won ? "won" : "open";
  }

  /**
   * Stripe's clock now (the `Date` of one small answer), unix seconds; null when Stripe cannot be
   * asked quickly. `init` takes its default start line from it: a host clock running fast would
   * otherwise put the charges of the next minutes before the start line.
   */
  async stripeNow(): Promise<number | null> {
    try {
      const page = await this.stripe.charges.list({ limit: 1 }, { timeout: 5000, maxNetworkRetries: 0 });
      return stripeDate(page);
    } catch {
      return null;
    }
  }

  /** One cheap authenticated read: is the key accepted and allowed to read charges? */
  async ping(): Promise<void> {
    await this.call("list charges", () => this.stripe.charges.list({ limit: 1 }));
  }

  private async call<T>(op: string, fn: () => Promise<T>, raw = false): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.requests++;
      try {
        return await fn();
      } catch (err) {
        const e = err as { statusCode?: number; headers?: Record<string, string> };
        if (e.statusCode === 429 && attempt < RATE_LIMIT_RETRIES) {
          const retryAfter = Number(e.headers?.["retry-after"]);
          await this.clock.sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 500 * 2 ** attempt);
          continue;
        }
        if (raw) throw err;
        throw asStripeFailure(err, op);
      }
    }
  }
}
