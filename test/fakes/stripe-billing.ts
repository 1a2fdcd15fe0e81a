// Stripe Billing for the fake Stripe: subscriptions, invoices and invoice payments, shaped as
// the `stripe` package's types have them since API 2025-03-31 (basil): a charge and its
// PaymentIntent no longer name their invoice, `/v1/invoice_payments` links the two (with
// `payment[type]` required when filtering by payment), an invoice line carries its Price and
// Product at `pricing.price_details`, and an invoice names its subscription at
// `parent.subscription_details.subscription`.
import { randomBytes } from "node:crypto";
import { checkExpand, invalid, missing, paginate, type Obj } from "./stripe-lists";

const randomId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;
/** Stripe embeds the first 10 lines in an invoice; the rest are at /v1/invoices/:id/lines. */
const EMBEDDED_LINES = 10;

export interface InvoiceLineInput {
  price: string;
  product: string;
  amount?: number;
  quantity?: number;
  description?: string;
}

export interface InvoiceInput {
  id?: string;
  customer?: string | null;
  customer_email?: string | null;
  customer_name?: string | null;
  subscription?: string | null;
  /** `subscription_create` (a subscription's first), `subscription_cycle` (renewals), `manual` (dashboard). */
  billing_reason?: string;
  lines: InvoiceLineInput[];
  created?: number;
  currency?: string;
  /** Default: the sum of the lines; 0 for a free trial's first invoice. */
  amount_paid?: number;
  status?: "draft" | "open" | "paid" | "void" | "uncollectible";
  /** The PaymentIntent that paid it: recorded as a paid invoice payment. A $0 invoice has none. */
  payment_intent?: string | null;
  metadata?: Record<string, string>;
}

export interface SubscriptionInput {
  id?: string;
  customer?: string | null;
  created?: number;
  items: { price: string; product: string; quantity?: number }[];
  status?: string;
  metadata?: Record<string, string>;
}

export class StripeBilling {
  private readonly invoices: Obj[] = []; // newest first
  private readonly lines = new Map<string, Obj[]>();
  private readonly payments: Obj[] = []; // newest first
  private readonly subscriptions = new Map<string, Obj>();

  constructor(private readonly now: () => number) {}

  addSubscription(input: SubscriptionInput): Obj {
    const id = input.id ?? randomId("sub");
    const created = input.created ?? this.now();
    const sub: Obj = {
      id, object: "subscription", status: input.status ?? "active", customer: input.customer ?? null, created, start_date: created,
      livemode: false, metadata: input.metadata ?? {}, latest_invoice: null, cancel_at_period_end: false,
      items: { object: "list", has_more: false, url: `/v1/subscription_items?subscription=${id}`, data: input.items.map((it) => ({
        id: randomId("si"), object: "subscription_item", quantity: it.quantity ?? 1, subscription: id, created,
        price: { id: it.price, object: "price", product: it.product, type: "recurring", currency: "usd", active: true, livemode: false, metadata: {} },
      })) },
    };
    this.subscriptions.set(id, sub);
    return sub;
  }

  addInvoice(input: InvoiceInput): Obj {
    const id = input.id ?? randomId("in");
    const created = input.created ?? this.now();
    const currency = input.currency ?? "usd";
    const lines = input.lines.map((l) => ({
      id: randomId("il"), object: "line_item", amount: l.amount ?? 0, currency, description: l.description ?? null,
      discount_amounts: [], discountable: true, discounts: [], invoice: id, livemode: false, metadata: {},
      parent: input.subscription ? { type: "subscription_item_details", invoice_item_details: null,
        subscription_item_details: { invoice_item: null, proration: false, proration_details: { credited_items: null }, subscription: input.subscription, subscription_item: randomId("si") } } : null,
      period: { start: created, end: created }, pretax_credit_amounts: [],
      pricing: { type: "price_details", price_details: { price: l.price, product: l.product }, unit_amount_decimal: String(l.amount ?? 0) },
      quantity: l.quantity ?? 1, subscription: input.subscription ?? null, subtotal: l.amount ?? 0, taxes: [],
    }));
    const total = lines.reduce((n, l) => n + l.amount, 0);
    const status = input.status ?? "paid";
    const paid = status === "paid" ? (input.amount_paid ?? total) : 0;
    const invoice: Obj = {
      id, object: "invoice", status, created, currency, customer: input.customer ?? null,
      customer_email: input.customer_email ?? null, customer_name: input.customer_name ?? null,
      billing_reason: input.billing_reason ?? (input.subscription ? "subscription_create" : "manual"),
      collection_method: "charge_automatically", description: null, livemode: false, metadata: input.metadata ?? {},
      amount_due: input.amount_paid ?? total, amount_paid: paid, amount_remaining: status === "paid" ? 0 : total, total, subtotal: total,
      application: null, attempted: status === "paid", number: null,
      parent: input.subscription
        ? { type: "subscription_details", quote_details: null, subscription_details: { metadata: {}, subscription: input.subscription } }
        : null,
      status_transitions: { finalized_at: created, paid_at: status === "paid" ? created : null, marked_uncollectible_at: null, voided_at: null },
    };
    this.invoices.unshift(invoice);
    this.invoices.sort((a, b) => Number(b.created) - Number(a.created));
    this.lines.set(id, lines);
    if (input.payment_intent) {
      this.payments.unshift({
        id: randomId("inpay"), object: "invoice_payment", amount_paid: status === "paid" ? paid : null, amount_requested: input.amount_paid ?? total,
        created, currency, invoice: id, is_default: true, livemode: false,
        payment: { type: "payment_intent", payment_intent: input.payment_intent },
        status: status === "paid" ? "paid" : "open", status_transitions: { canceled_at: null, paid_at: status === "paid" ? created : null },
      });
    }
    const sub = input.subscription ? this.subscriptions.get(input.subscription) : undefined;
    if (sub) sub.latest_invoice = id;
    return invoice;
  }

  /** GET routes under /v1 this module answers; undefined for a path it does not own. */
  route(path: string, q: URLSearchParams, expand: string[]): Obj | undefined {
    let m: RegExpExecArray | null;
    if (path === "/v1/invoice_payments") return this.listPayments(q, expand);
    if (path === "/v1/invoices") {
      const sub = q.get("subscription"), customer = q.get("customer"), status = q.get("status");
      const bound = (name: string) => (q.get(name) === null ? undefined : Number(q.get(name)));
      const gte = bound("created[gte]") ?? -Infinity, lte = bound("created[lte]") ?? Infinity;
      const lt = bound("created[lt]") ?? Infinity, gt = bound("created[gt]") ?? -Infinity;
      const matching = this.invoices.filter((i) =>
        (sub === null || subscriptionOf(i) === sub) && (customer === null || i.customer === customer) && (status === null || i.status === status) &&
        Number(i.created) >= gte && Number(i.created) <= lte && Number(i.created) < lt && Number(i.created) > gt);
      checkExpand(expand, []);
      return paginate(matching.map((i) => this.withLines(i)), q, "/v1/invoices", []);
    }
    if ((m = /^\/v1\/invoices\/([^/]+)\/lines$/.exec(path))) {
      const lines = this.lines.get(m[1] ?? "");
      if (!lines) throw missing(404, "invoice", m[1] ?? "");
      return paginate(lines, q, path, expand);
    }
    if ((m = /^\/v1\/invoices\/([^/]+)$/.exec(path))) {
      checkExpand(expand, []);
      return this.withLines(this.invoice(m[1] ?? ""));
    }
    if ((m = /^\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
      checkExpand(expand, []);
      const sub = this.subscriptions.get(m[1] ?? "");
      if (!sub) throw missing(404, "subscription", m[1] ?? "");
      return sub;
    }
    return undefined;
  }

  private listPayments(q: URLSearchParams, expand: string[]): Obj {
    checkExpand(expand, ["data.invoice"]);
    const type = q.get("payment[type]");
    const intent = q.get("payment[payment_intent]");
    const anyPayment = [...q.keys()].some((k) => k.startsWith("payment["));
    // As Stripe: filtering by payment needs its type.
    if (anyPayment && type === null) throw invalid("Missing required param: payment[type].", { param: "payment[type]" });
    if (type !== null && !["payment_intent", "payment_record"].includes(type)) {
      throw invalid(`Invalid payment[type]: must be one of payment_intent or payment_record`, { param: "payment[type]" });
    }
    const invoice = q.get("invoice"), status = q.get("status");
    const matching = this.payments.filter((p) => {
      const pay = p.payment as Obj;
      return (type === null || pay.type === type) && (intent === null || pay.payment_intent === intent) &&
        (invoice === null || p.invoice === invoice) && (status === null || p.status === status);
    });
    const page = paginate(matching, q, "/v1/invoice_payments", []);
    if (expand.includes("data.invoice")) {
      page.data = (page.data as Obj[]).map((p) => ({ ...p, invoice: this.withLines(this.invoice(String(p.invoice))) }));
    }
    return page;
  }

  private invoice(id: string): Obj {
    const found = this.invoices.find((i) => i.id === id);
    if (!found) throw missing(404, "invoice", id);
    return found;
  }

  private withLines(invoice: Obj): Obj {
    const lines = this.lines.get(String(invoice.id)) ?? [];
    return { ...invoice, lines: { object: "list", data: lines.slice(0, EMBEDDED_LINES), has_more: lines.length > EMBEDDED_LINES, url: `/v1/invoices/${String(invoice.id)}/lines` } };
  }
}

function subscriptionOf(invoice: Obj): string | null {
  const parent = invoice.parent as { subscription_details?: { subscription?: string } } | null;
  return parent?.subscription_details?.subscription ?? null;
}
