import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_PRODUCTS, Shop } from "./helpers/shop";

// An account that also sells other things (CONTRACT.md, "Charges that are not the shop's"):
// subscriptions, invoices sent from the dashboard, Checkout sales of Prices the catalog lacks.
// The catalog here keeps the default shop's $19 amount rule (ebook), so every case where
// paidup matched by amount shows.

const COURSE = { key: "course", match: { price: "price_course" }, subject: "Your course", text: "templates/ebook.txt" };
const ISSUE = { key: "issue", match: { product: "prod_issue" }, subject: "This month's issue", text: "templates/ebook.txt", renewals: "deliver" };

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { products: [...DEFAULT_PRODUCTS, COURSE, ISSUE] } });
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);
const sentFor = (id: string) => shop.resend.sent.filter((s) => s.idempotencyKey?.startsWith(`paidup-${id}`));
let seq = 0;

/** A charge paid through an invoice, as Stripe has it since 2025-03-31: only its PaymentIntent links them. */
function invoiceCharge(opts: { amount: number; lines: { price: string; product: string }[]; subscription?: string; reason?: string; created?: number; metadata?: Record<string, string> }) {
  const pi = `pi_inv_${++seq}_${now()}`;
  const created = opts.created ?? now() - 5;
  const invoice = shop.stripe.addInvoice({
    subscription: opts.subscription ?? null, billing_reason: opts.reason, payment_intent: pi, created,
    lines: opts.lines.map((l) => ({ ...l, amount: Math.floor(opts.amount / opts.lines.length) })),
  });
  const charge = shop.stripe.addCharge({
    amount: opts.amount, currency: "usd", payment_intent: pi, created, description: "Subscription update",
    billing_details: { email: "subscriber@example.com", name: "Sub Scriber" }, metadata: opts.metadata ?? {},
  });
  return { charge, invoice: String(invoice.id) };
}

async function reconcile(): Promise<void> {
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, `reconcile exits 0: ${r.stdout}${r.stderr}`);
}

test("a $19 renewal of a subscription the catalog does not sell is not a product sale, and is not emailed the $19 product", async () => {
  const sub = shop.stripe.addSubscription({ customer: null, created: now() - 60, items: [{ price: "price_saas", product: "prod_saas" }] });
  const { charge, invoice } = invoiceCharge({ amount: 1900, lines: [{ price: "price_saas", product: "prod_saas" }], subscription: String(sub.id), reason: "subscription_cycle" });
  await reconcile();
  assert.equal(sentFor(charge.id).length, 0, "no email for someone else's subscription");
  assert.deepEqual({ state: shop.row(charge.id)?.state, reason: shop.row(charge.id)?.reason }, { state: "skipped", reason: `not a product sale: invoice ${invoice}` });
});

test("a consulting invoice sent from the dashboard is skipped, not needs_review: reconcile and status exit 0", async () => {
  const { charge, invoice } = invoiceCharge({ amount: 75000, lines: [{ price: "price_consulting", product: "prod_consulting" }], reason: "manual" });
  await reconcile();
  assert.equal(shop.row(charge.id)?.reason, `not a product sale: invoice ${invoice}`);
  assert.equal(shop.row(charge.id)?.state, "skipped");
  const status = await shop.run(["status", "--json"]);
  assert.equal(status.code, 0, status.stdout);
  const show = await shop.run(["show", charge.id]);
  assert.match(show.stdout, new RegExp(`state     skipped \\(not a product sale: invoice ${invoice}\\)`));
});

test("a Checkout sale of a Price the catalog does not sell goes to needs_review: its line items decide, never its amount", async () => {
  const c = shop.stripe.addCharge({ amount: 1900, currency: "usd", payment_intent: `pi_other_${now()}`, billing_details: { email: "b@example.com" }, created: now() - 5 });
  shop.stripe.addCheckoutSession({ payment_intent: String(c.payment_intent), line_items: [{ price: { id: "price_other", product: "prod_other" } }] });
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 1, "a Payment Link missing from the catalog is the owner's to hear about");
  assert.equal(sentFor(c.id).length, 0);
  assert.deepEqual({ state: shop.row(c.id)?.state, reason: shop.row(c.id)?.reason }, { state: "needs_review", reason: "no product matches this charge" });
  shop.exec(`UPDATE charges SET state = 'resolved' WHERE id = '${c.id}'`); // leave the shop clean for the next tests
});

test("a charge's own metadata matches behind Checkout line items that match nothing; the session's metadata does not", async () => {
  const own = shop.stripe.addCharge({ amount: 4900, currency: "usd", payment_intent: `pi_meta_${now()}`, metadata: { product: "ship-fast" }, billing_details: { email: "m@example.com" }, created: now() - 5 });
  shop.stripe.addCheckoutSession({ payment_intent: String(own.payment_intent), line_items: [{ price: { id: "price_other", product: "prod_other" } }] });
  const sessionOnly = shop.stripe.addCharge({ amount: 1900, currency: "usd", payment_intent: `pi_smeta_${now()}`, billing_details: { email: "s@example.com" }, created: now() - 5 });
  shop.stripe.addCheckoutSession({ payment_intent: String(sessionOnly.payment_intent), metadata: { product: "ship-fast" }, line_items: [{ price: { id: "price_other", product: "prod_other" } }] });
  await shop.run(["reconcile"]);
  assert.equal(shop.row(own.id)?.state, "delivered");
  assert.equal(shop.row(own.id)?.product, "ship-fast");
  assert.equal(shop.row(sessionOnly.id)?.state, "needs_review", "metadata means the charge's own (payment_intent_data.metadata)");
  shop.exec(`UPDATE charges SET state = 'resolved' WHERE id = '${sessionOnly.id}'`);
});

test("a subscription's product comes with its first invoice; its renewal is skipped as a renewal", async () => {
  const sub = String(shop.stripe.addSubscription({ created: now() - 30, items: [{ price: "price_course", product: "prod_course" }] }).id);
  // Bought through Checkout in subscription mode: the session has no payment_intent, its invoice names the first invoice.
  const first = invoiceCharge({ amount: 4900, lines: [{ price: "price_course", product: "prod_course" }], subscription: sub, reason: "subscription_create", created: now() - 20 });
  shop.stripe.addCheckoutSession({ mode: "subscription", payment_intent: null, subscription: sub, invoice: first.invoice, line_items: [{ price: { id: "price_course", product: "prod_course" } }] });
  const renewal = invoiceCharge({ amount: 4900, lines: [{ price: "price_course", product: "prod_course" }], subscription: sub, reason: "subscription_cycle", created: now() - 10 });
  await reconcile();
  assert.equal(shop.row(first.charge.id)?.state, "delivered");
  assert.deepEqual(sentFor(first.charge.id).map((s) => [s.idempotencyKey, s.subject]), [[`paidup-${first.charge.id}`, "Your course"]]);
  assert.deepEqual({ state: shop.row(renewal.charge.id)?.state, reason: shop.row(renewal.charge.id)?.reason }, { state: "skipped", reason: "renewal" });
  assert.equal(sentFor(renewal.charge.id).length, 0);
});

test("after a free trial ($0 first invoice, no charge) the first renewal paid with money delivers, the next one does not", async () => {
  const sub = String(shop.stripe.addSubscription({ created: now() - 40, items: [{ price: "price_course", product: "prod_course" }] }).id);
  shop.stripe.addInvoice({ subscription: sub, billing_reason: "subscription_create", amount_paid: 0, created: now() - 40, lines: [{ price: "price_course", product: "prod_course", amount: 0 }] });
  const firstPaid = invoiceCharge({ amount: 4900, lines: [{ price: "price_course", product: "prod_course" }], subscription: sub, reason: "subscription_cycle", created: now() - 20 });
  await reconcile();
  assert.equal(shop.row(firstPaid.charge.id)?.state, "delivered");
  const next = invoiceCharge({ amount: 4900, lines: [{ price: "price_course", product: "prod_course" }], subscription: sub, reason: "subscription_cycle", created: now() - 5 });
  await reconcile();
  assert.equal(shop.row(next.charge.id)?.reason, "renewal");
});

test('a product with "renewals": "deliver" is delivered with every paid invoice, each once under paidup-<charge_id>', async () => {
  const sub = String(shop.stripe.addSubscription({ created: now() - 40, items: [{ price: "price_issue_m", product: "prod_issue" }] }).id);
  const one = invoiceCharge({ amount: 900, lines: [{ price: "price_issue_m", product: "prod_issue" }], subscription: sub, reason: "subscription_create", created: now() - 30 });
  const two = invoiceCharge({ amount: 900, lines: [{ price: "price_issue_m", product: "prod_issue" }], subscription: sub, reason: "subscription_cycle", created: now() - 5 });
  await reconcile();
  await reconcile();
  for (const { charge } of [one, two]) {
    assert.equal(shop.row(charge.id)?.state, "delivered");
    assert.deepEqual(sentFor(charge.id).map((s) => s.idempotencyKey), [`paidup-${charge.id}`]);
  }
});

test("on a renewal invoice with several products, each follows its own renewals", async () => {
  const sub = String(shop.stripe.addSubscription({ created: now() - 40, items: [{ price: "price_course", product: "prod_course" }, { price: "price_issue_m", product: "prod_issue" }] }).id);
  invoiceCharge({ amount: 5800, lines: [{ price: "price_course", product: "prod_course" }, { price: "price_issue_m", product: "prod_issue" }], subscription: sub, reason: "subscription_create", created: now() - 30 });
  const renewal = invoiceCharge({ amount: 5800, lines: [{ price: "price_course", product: "prod_course" }, { price: "price_issue_m", product: "prod_issue" }], subscription: sub, reason: "subscription_cycle", created: now() - 5 });
  await reconcile();
  assert.equal(shop.row(renewal.charge.id)?.product, "issue", "the course is not sent again; the issue is");
  assert.deepEqual(sentFor(renewal.charge.id).map((s) => [s.idempotencyKey, s.subject]), [[`paidup-${renewal.charge.id}`, "This month's issue"]]);
});

test("a subscription begun before the start line is not delivered by its renewals", async () => {
  const sub = String(shop.stripe.addSubscription({ created: now() - 30 * 86400, items: [{ price: "price_course", product: "prod_course" }] }).id);
  const renewal = invoiceCharge({ amount: 4900, lines: [{ price: "price_course", product: "prod_course" }], subscription: sub, reason: "subscription_cycle" });
  await reconcile();
  assert.equal(shop.row(renewal.charge.id)?.reason, "renewal");
  assert.equal(sentFor(renewal.charge.id).length, 0);
});

test("a pass after these charges were judged looks none of them up again: one listing, no invoice, subscription or session reads", async () => {
  shop.stripe.resetCounters();
  await reconcile();
  assert.equal(shop.stripe.requestCount({ path: /invoice|subscription|checkout|customers|payment_intents/ }), 0, JSON.stringify(shop.stripe.requests.map((r) => r.path)));
  assert.equal(shop.stripe.requestCount({ path: "/v1/charges" }), 1);
});

test("status and show judge a paid charge with no row as a pass would: an invoice no product is on is not missing, a Checkout sale of nothing in the catalog is", async () => {
  const old = now() - 20 * 60; // older than stuckAfter (15m), after the watermark's reach: no pass lists it now
  const { charge: invoiced, invoice: invoicedInvoice } = invoiceCharge({ amount: 1900, lines: [{ price: "price_saas", product: "prod_saas" }], reason: "manual", created: old });
  const unknown = shop.stripe.addCharge({ amount: 1900, currency: "usd", payment_intent: `pi_unk_${now()}`, billing_details: { email: "u@example.com" }, created: old });
  shop.stripe.addCheckoutSession({ payment_intent: String(unknown.payment_intent), line_items: [{ price: { id: "price_other", product: "prod_other" } }] });
  const r = await shop.run(["status", "--json"]);
  const stuck = (JSON.parse(r.stdout) as { stuck: { charge: string; state: string }[] }).stuck;
  assert.deepEqual(stuck.map((s) => [s.charge, s.state]), [[unknown.id, "missing"]], r.stdout);
  assert.ok(!stuck.some((s) => s.charge === invoiced.id));
  assert.equal(r.code, 1);
  const show = JSON.parse((await shop.run(["show", invoiced.id, "--json"])).stdout) as { state: string; reason: string };
  assert.deepEqual([show.state, show.reason], ["skipped", `no pass has recorded it; it would be skipped: not a product sale: invoice ${invoicedInvoice}`]);
  // Taken in by a pass (as a deep re-check would), they end as status judged them.
  await shop.run(["reconcile", "--since", "1h"]);
  assert.equal(shop.row(invoiced.id)?.state, "skipped");
  shop.exec(`UPDATE charges SET state = 'resolved' WHERE id = '${unknown.id}'`);
});

test("a restricted key that may not read invoices still runs its passes: charges are judged as before, with one warning", async () => {
  shop.stripe.deniedReads.set(/^\/v1\/invoice/, "rak_invoice_read");
  try {
    const c = shop.stripe.addCharge({ amount: 1900, currency: "usd", payment_intent: `pi_noinv_${now()}`, billing_details: { email: "n@example.com" }, created: now() - 5 });
    const r = await shop.run(["reconcile"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(shop.row(c.id)?.product, "ebook");
    assert.equal(r.stderr.match(/may not read invoices/g)?.length, 1, r.stderr);
  } finally {
    shop.stripe.deniedReads.clear();
  }
});
