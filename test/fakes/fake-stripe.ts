// A local fake of the parts of Stripe's API that paidup reads, for the real `stripe` SDK.
// Response shapes, list semantics and error bodies follow Stripe's; see test/fakes.test.ts.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { FaultQueue, ServerLifecycle, resetConnection, sendJson, type FaultRule } from "./faults";
import { permissionError, StripeEventLog } from "./stripe-events";
import { ApiError, checkExpand, expansions, invalid, missing, paginate, parseLimit, slicePage, type Obj } from "./stripe-lists";
import { StripeBilling, type InvoiceInput, type SubscriptionInput } from "./stripe-billing";

export interface BillingDetails {
  email: string | null;
  name: string | null;
  address: Obj | null;
  phone: string | null;
}

export interface FakeCharge {
  id: string;
  object: "charge";
  amount: number;
  currency: string;
  created: number;
  status: "succeeded" | "pending" | "failed";
  paid: boolean;
  captured: boolean;
  refunded: boolean;
  amount_refunded: number;
  disputed: boolean;
  livemode: boolean;
  metadata: Record<string, string>;
  billing_details: BillingDetails;
  receipt_email: string | null;
  customer: string | null;
  payment_intent: string | null;
  description: string | null;
  /** The Connect application that created the charge (`ca_…`), or null. */
  application: string | null;
}

/** Any other field (e.g. `outcome`, `refunds`) is copied onto the charge as given. */
export type ChargeInput = Partial<Omit<FakeCharge, "billing_details" | "object">> & {
  billing_details?: Partial<BillingDetails>;
  [extra: string]: unknown;
};

export interface CheckoutSessionInput {
  id?: string;
  /** `subscription` mode has no payment_intent: its `invoice` names the first invoice. */
  mode?: "payment" | "subscription" | "setup";
  subscription?: string | null;
  invoice?: string | null;
  payment_intent: string | null;
  payment_link?: string | null;
  payment_status?: "paid" | "unpaid" | "no_payment_required";
  customer_details?: { email: string | null; name: string | null };
  customer_email?: string | null;
  customer?: string | null;
  line_items: { price: { id: string; product: string }; quantity?: number; description?: string }[];
  metadata?: Record<string, string>;
}

export interface StripeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
}

const randomId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;
// List order: newest first, ties broken by id (descending) so the order is stable.
const before = (a: FakeCharge, b: FakeCharge) => b.created - a.created || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export class FakeStripe {
  readonly requests: StripeRequestRecord[] = [];
  /**
   * How far Stripe's clock runs ahead of this host's (negative: behind). It moves the default
   * `created` of new objects and the `Date` header, as a host clock minutes off would look from
   * paidup's side.
   */
  clockOffsetMs = 0;
  private readonly apiKey: string | undefined;
  private readonly faults = new FaultQueue();
  private readonly life: ServerLifecycle;
  // Sorted by `before` at all times, so a list request is a binary search plus a slice.
  private sorted: FakeCharge[] = [];
  private readonly chargeById = new Map<string, FakeCharge>();
  private readonly customers = new Map<string, Obj>();
  private readonly paymentIntents = new Map<string, Obj>();
  private readonly sessions: Obj[] = []; // newest first
  private readonly lineItems = new Map<string, Obj[]>();
  /** Refund and dispute events (events.list) and disputes (disputes.list / update). */
  readonly eventLog = new StripeEventLog();
  /** Keys also accepted, but only for reads: a write answers 403 like a restricted read-only key. */
  readonly readOnlyKeys = new Set<string>();
  /** Reads a restricted key may not make (path pattern → the permission Stripe names), answered 403. */
  readonly deniedReads = new Map<RegExp, string>();
  private readonly disputes: Obj[] = []; // newest first
  /** Subscriptions, invoices and invoice payments (stripe-billing.ts). */
  readonly billing = new StripeBilling(() => this.nowSeconds());

  constructor(options: { apiKey?: string } = {}) {
    this.apiKey = options.apiKey;
    this.life = new ServerLifecycle(createServer((req, res) => void this.handle(req, res)));
  }

  get url(): string { return this.life.url; }
  get port(): number { return this.life.port; }
  start(): Promise<void> { return this.life.start(); }
  close(): Promise<void> { return this.life.close(); }
  addFault(rule: FaultRule): void { this.faults.add(rule); }
  /** Stripe's "now", in ms, on its own clock. */
  nowMs(): number { return Date.now() + this.clockOffsetMs; }
  /** Stripe's "now", in unix seconds (the resolution of `created`). */
  nowSeconds(): number { return Math.floor(this.nowMs() / 1000); }
  clearFaults(): void { this.faults.clear(); }

  // ---- state helpers (synchronous) ----

  addCharge(input: ChargeInput = {}): FakeCharge {
    const charge = this.buildCharge(input, this.nowSeconds());
    if (this.chargeById.has(charge.id)) throw new Error(`duplicate charge id ${charge.id}`);
    this.chargeById.set(charge.id, charge);
    this.sorted.splice(this.firstIndex((c) => before(charge, c) < 0), 0, charge);
    return charge;
  }

  /**
   * Changes a charge in place (use this rather than mutating, so the list order stays right).
   * A new `status` also sets `paid` (and `captured`, on success) unless the patch gives them.
   */
  updateCharge(id: string, patch: ChargeInput): FakeCharge {
    const charge = this.chargeById.get(id);
    if (!charge) throw new Error(`no charge ${id}`);
    const { billing_details, ...rest } = patch;
    if (rest.status !== undefined) {
      rest.paid ??= rest.status === "succeeded";
      if (rest.status === "succeeded") rest.captured ??= true;
    }
    const resort = rest.created !== undefined && rest.created !== charge.created;
    if (resort) this.sorted.splice(this.indexOfCharge(charge), 1);
    Object.assign(charge, rest, { id });
    if (billing_details) Object.assign(charge.billing_details, billing_details);
    if (resort) this.sorted.splice(this.firstIndex((c) => before(charge, c) < 0), 0, charge);
    return charge;
  }

  /**
   * Adds n charges at once (benchmarks). Default `created` spreads them one second apart,
   * ending now; a function template gets the index for per-charge values.
   */
  bulkAddCharges(n: number, template: ChargeInput | ((i: number) => ChargeInput) = {}): void {
    const now = this.nowSeconds();
    const tag = randomBytes(3).toString("hex");
    for (let i = 0; i < n; i++) {
      const input = typeof template === "function" ? template(i) : { ...template };
      const charge = this.buildCharge(
        { id: `ch_bulk${tag}${String(i).padStart(8, "0")}`, created: now - (n - 1 - i), ...input },
        now,
      );
      if (this.chargeById.has(charge.id)) throw new Error(`duplicate charge id ${charge.id}`);
      this.chargeById.set(charge.id, charge);
      this.sorted.push(charge);
    }
    this.sorted.sort(before); // one sort for the whole batch
  }

  charges(): FakeCharge[] { return [...this.sorted]; }

  /** A full refund, as Stripe records it: the charge flags and a `charge.refunded` event. */
  refund(id: string, at = this.nowSeconds()): FakeCharge {
    const charge = this.updateCharge(id, { refunded: true, amount_refunded: this.chargeById.get(id)?.amount ?? 0 });
    this.eventLog.add("charge.refunded", { ...charge }, at);
    return charge;
  }

  /** A dispute as Stripe records it: addDispute, created at `at`, and a `charge.dispute.created` event. */
  dispute(id: string, at = this.nowSeconds(), status = "needs_response"): Obj {
    const dispute = Object.assign(this.addDispute({ charge: id, status }), { created: at });
    this.eventLog.add("charge.dispute.created", { ...dispute }, at);
    return dispute;
  }

  /** A dispute closes (won, lost, warning_closed) as Stripe records it: its status and a `charge.dispute.closed` event. */
  closeDispute(id: string, status: "won" | "lost" | "warning_closed", at = this.nowSeconds()): Obj {
    const dispute = this.updateDispute(id, { status });
    this.eventLog.add("charge.dispute.closed", { ...dispute }, at);
    return dispute;
  }

  addCustomer(input: { id?: string; email: string | null; name?: string | null }): Obj {
    const customer = { object: "customer", created: this.nowSeconds(), livemode: false, metadata: {},
      name: null, ...input, id: input.id ?? randomId("cus") };
    this.customers.set(customer.id, customer);
    return customer;
  }

  addPaymentIntent(input: { id: string; latest_charge: string | null } & Obj): Obj {
    const intent = { object: "payment_intent", status: "succeeded", livemode: false, metadata: {}, ...input };
    this.paymentIntents.set(input.id, intent);
    return intent;
  }

  addCheckoutSession(input: CheckoutSessionInput): Obj {
    const { line_items, ...rest } = input;
    const id = input.id ?? randomId("cs_test");
    const session: Obj = { object: "checkout.session", mode: "payment", status: "complete",
      payment_status: "paid", payment_link: null, customer: null, customer_email: null, subscription: null, invoice: null,
      customer_details: null, metadata: {}, livemode: false, created: this.nowSeconds(), ...rest, id };
    const items = line_items.map((li) => ({
      id: randomId("li"), object: "item", description: li.description ?? null,
      quantity: li.quantity ?? 1, currency: "usd", amount_discount: 0, amount_tax: 0,
      price: { object: "price", active: true, type: "one_time", currency: "usd", livemode: false, metadata: {}, ...li.price },
    }));
    this.sessions.unshift(session);
    this.lineItems.set(id, items);
    return session;
  }

  addSubscription(input: SubscriptionInput): Obj { return this.billing.addSubscription(input); }
  addInvoice(input: InvoiceInput): Obj { return this.billing.addInvoice(input); }

  /** A dispute on a charge (which becomes `disputed: true` for good, as on Stripe). */
  addDispute(input: { charge: string; status?: string; id?: string; reason?: string }): Obj {
    const charge = this.chargeById.get(input.charge);
    if (!charge) throw new Error(`no charge ${input.charge}`);
    const dispute: Obj = { object: "dispute", amount: charge.amount, currency: charge.currency, livemode: false,
      reason: input.reason ?? "fraudulent", status: input.status ?? "needs_response", created: this.nowSeconds(),
      metadata: {}, evidence: {}, charge: charge.id, payment_intent: charge.payment_intent, id: input.id ?? randomId("dp") };
    this.disputes.unshift(dispute);
    charge.disputed = true;
    return dispute;
  }

  /** A dispute's outcome changes (won, lost, warning_closed…); the charge stays `disputed`. */
  updateDispute(id: string, patch: { status: string }): Obj {
    const dispute = this.disputes.find((d) => d.id === id);
    if (!dispute) throw new Error(`no dispute ${id}`);
    return Object.assign(dispute, patch);
  }

  // ---- counters ----

  requestCount(filter: { method?: string; path?: RegExp | string } = {}): number {
    return this.requests.filter((r) =>
      (!filter.method || r.method === filter.method.toUpperCase()) &&
      (filter.path === undefined || (typeof filter.path === "string" ? r.path === filter.path : filter.path.test(r.path))),
    ).length;
  }

  resetCounters(): void { this.requests.length = 0; }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query = url.searchParams;
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(query) });
    // Node would stamp the host's time; Stripe's Date is on Stripe's clock.
    const headers = { "request-id": randomId("req"), "stripe-version": "fake", date: new Date(this.nowMs()).toUTCString() };

    const fault = this.faults.take(method, url.pathname, req.url ?? "/");
    if (fault?.kind === "reset" || fault?.kind === "reset-after-processing") return resetConnection(res);
    if (fault?.kind === "hang") return;
    if (fault?.kind === "delay") await this.life.sleep(fault.ms);
    if (fault?.kind === "status") {
      const type = fault.status >= 500 ? "api_error" : "invalid_request_error";
      const body = fault.body ?? { error: { type, message: `Fake fault: HTTP ${fault.status}`,
        ...(fault.status === 429 ? { code: "rate_limit" } : {}) } };
      return sendJson(res, fault.status, body, { ...headers, ...fault.headers });
    }

    try {
      const key = this.checkAuth(req.headers.authorization);
      if (method === "POST") {
        const form = new URLSearchParams(await readAll(req));
        if (key !== undefined && this.readOnlyKeys.has(key)) throw permissionError(key);
        const m = /^\/v1\/disputes\/([^/]+)$/.exec(url.pathname);
        if (!m) throw new ApiError(404, { type: "invalid_request_error", message: `Unrecognized request URL (POST: ${url.pathname}).` });
        const dispute = this.disputes.find((d) => d.id === m[1]);
        if (!dispute) throw missing(404, "dispute", m[1] ?? "");
        return sendJson(res, 200, this.eventLog.updateDispute(dispute, Object.fromEntries(form)), headers);
      }
      for (const [pattern, permission] of this.deniedReads) if (pattern.test(url.pathname)) throw permissionError(key ?? "", permission);
      const body = this.route(method, url.pathname, query);
      sendJson(res, 200, body, headers);
    } catch (err) {
      // A bug in the fake shows up as a Stripe-style 500 rather than a crashed test run.
      const apiErr = err instanceof ApiError ? err : new ApiError(500, { type: "api_error", message: String(err) });
      sendJson(res, apiErr.status, { error: apiErr.body }, headers);
    }
  }

  private checkAuth(header: string | undefined): string | undefined {
    const key = /^Bearer (.+)$/.exec(header ?? "")?.[1];
    if (this.apiKey === undefined) return key;
    if (key !== undefined && this.readOnlyKeys.has(key)) return key;
    if (!key) {
      throw new ApiError(401, { type: "invalid_request_error", message: "You did not provide an API key. " +
        "You need to provide your API key in the Authorization header, using Bearer auth " +
        "(e.g. 'Authorization: Bearer YOUR_SECRET_KEY')." });
    }
    if (key !== this.apiKey) {
      // Stripe really repeats the key's prefix and last four characters here.
      const prefix = /^[a-z]{2}_(test|live)_/.exec(key)?.[0] ?? "";
      throw new ApiError(401, { type: "invalid_request_error",
        message: `Invalid API Key provided: ${prefix}****${key.slice(-4)}` });
    }
    return key;
  }

  private route(method: string, path: string, q: URLSearchParams): Obj {
    const expand = expansions(q);
    let m: RegExpExecArray | null;
    if (method === "GET") {
      if (path === "/v1/charges") return this.listCharges(q, expand);
      if ((m = /^\/v1\/charges\/([^/]+)$/.exec(path))) return this.expandCharge(this.getCharge(m[1] ?? ""), expand, "");
      if ((m = /^\/v1\/customers\/([^/]+)$/.exec(path))) return this.getOr(this.customers, "customer", m[1], expand);
      if ((m = /^\/v1\/payment_intents\/([^/]+)$/.exec(path))) return this.getOr(this.paymentIntents, "payment_intent", m[1], expand);
      if (path === "/v1/checkout/sessions") return this.listSessions(q, expand);
      if ((m = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path))) return this.getSession(m[1] ?? "", expand);
      if ((m = /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/.exec(path))) {
        const items = this.lineItems.get(m[1] ?? "");
        if (!items) throw missing(404, "checkout.session", m[1] ?? "");
        return paginate(items, q, path, expand);
      }
      if (path === "/v1/events") return this.eventLog.list(q);
      if (path === "/v1/disputes") {
        const filters = ["charge", "payment_intent"] as const;
        const matching = this.disputes.filter((d) => filters.every((f) => q.get(f) === null || d[f] === q.get(f)));
        return paginate(matching, q, "/v1/disputes", expand);
      }
      if ((m = /^\/v1\/disputes\/([^/]+)$/.exec(path))) {
        const dispute = this.disputes.find((d) => d.id === m?.[1]);
        if (!dispute) throw missing(404, "dispute", m[1] ?? "");
        return dispute;
      }
      const billing = this.billing.route(path, q, expand);
      if (billing) return billing;
      if (path === "/v1/balance") {
        const amounts = [{ amount: 0, currency: "usd", source_types: { card: 0 } }];
        return { object: "balance", available: amounts, pending: amounts, livemode: false };
      }
    }
    throw new ApiError(404, { type: "invalid_request_error", message:
      `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` });
  }

  private listCharges(q: URLSearchParams, expand: string[]): Obj {
    checkExpand(expand, ["data.customer"]);
    const limit = parseLimit(q);
    // The created filters select a contiguous run of the sorted array.
    const created = (name: string) => {
      const raw = q.get(name);
      if (raw === null) return undefined;
      if (!/^\d+$/.test(raw)) throw invalid(`Invalid integer: ${raw}`, { param: name });
      return Number(raw);
    };
    const eq = created("created"), gte = created("created[gte]"), gt = created("created[gt]");
    const lte = created("created[lte]"), lt = created("created[lt]");
    let lo = 0, hi = this.sorted.length;
    const upper = Math.min(eq ?? Infinity, lte ?? Infinity, lt === undefined ? Infinity : lt - 1);
    const lower = Math.max(eq ?? -Infinity, gte ?? -Infinity, gt === undefined ? -Infinity : gt + 1);
    lo = this.firstIndex((c) => c.created <= upper);
    hi = this.firstIndex((c) => c.created < lower);
    const customer = q.get("customer"), intent = q.get("payment_intent");
    const keep = (c: FakeCharge) =>
      (customer === null || c.customer === customer) && (intent === null || c.payment_intent === intent);
    const cursor = (param: string) => {
      const id = q.get(param);
      if (id === null) return undefined;
      const charge = this.chargeById.get(id);
      if (!charge) throw missing(400, "charge", id, param);
      return this.indexOfCharge(charge);
    };
    const page = slicePage(this.sorted, lo, hi, keep, cursor("starting_after"), cursor("ending_before"), limit);
    return { object: "list", url: "/v1/charges", has_more: page.hasMore,
      data: page.items.map((c) => this.expandCharge(c, expand, "data.")) };
  }

  private expandCharge(charge: FakeCharge, expand: string[], prefix: string): Obj {
    checkExpand(expand, [`${prefix}customer`, `${prefix}payment_intent`]);
    const out: Obj = { ...charge, billing_details: { ...charge.billing_details } };
    if (expand.includes(`${prefix}customer`) && charge.customer) {
      out.customer = this.customers.get(charge.customer) ?? charge.customer;
    }
    if (expand.includes(`${prefix}payment_intent`) && charge.payment_intent) {
      out.payment_intent = this.paymentIntents.get(charge.payment_intent) ?? charge.payment_intent;
    }
    return out;
  }

  private getCharge(id: string): FakeCharge {
    const charge = this.chargeById.get(id);
    if (!charge) throw missing(404, "charge", id);
    return charge;
  }

  private getOr(map: Map<string, Obj>, kind: string, id: string | undefined, expand: string[]): Obj {
    checkExpand(expand, []);
    const found = map.get(id ?? "");
    if (!found) throw missing(404, kind, id ?? "");
    return found;
  }

  private listSessions(q: URLSearchParams, expand: string[]): Obj {
    const filters = ["payment_intent", "payment_link", "customer", "subscription"] as const;
    const matching = this.sessions.filter((s) => filters.every((f) => q.get(f) === null || s[f] === q.get(f)));
    return paginate(matching, q, "/v1/checkout/sessions", expand);
  }

  private getSession(id: string, expand: string[]): Obj {
    checkExpand(expand, ["line_items"]);
    const session = this.sessions.find((s) => s.id === id);
    if (!session) throw missing(404, "checkout.session", id);
    if (!expand.includes("line_items")) return session;
    const items = this.lineItems.get(id) ?? [];
    return { ...session, line_items: { object: "list", data: items.slice(0, 10), has_more: items.length > 10,
      url: `/v1/checkout/sessions/${id}/line_items` } };
  }

  private buildCharge(input: ChargeInput, now: number): FakeCharge {
    const status = input.status ?? "succeeded";
    return {
      object: "charge", amount: 1000, currency: "usd", created: now, status,
      paid: status === "succeeded", captured: status === "succeeded", refunded: false,
      amount_refunded: 0, disputed: false, livemode: false, metadata: {},
      receipt_email: null, customer: null, payment_intent: null, description: null, application: null,
      ...input,
      id: input.id ?? randomId("ch"),
      billing_details: { email: null, name: null, address: null, phone: null, ...input.billing_details },
    };
  }

  /** First index in the sorted array where `pred` holds; pred must be monotone over the order. */
  private firstIndex(pred: (c: FakeCharge) => boolean): number {
    let lo = 0, hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(this.sorted[mid] as FakeCharge)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private indexOfCharge(charge: FakeCharge): number {
    return this.firstIndex((c) => before(c, charge) >= 0);
  }
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

/** Options for `new Stripe(key, { ...stripeClientOptions(fake) })`. */
export function stripeClientOptions(fake: FakeStripe): { host: string; port: number; protocol: "http" } {
  return { host: "127.0.0.1", port: fake.port, protocol: "http" };
}
