import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);
const sentFor = (id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`);

test("a charge is matched by the Price bought in its Checkout Session, and the email comes from the session", async () => {
  const c = shop.stripe.addCharge({ amount: 2500, currency: "usd", payment_intent: "pi_starter_1", billing_details: { email: null }, created: now() - 5 });
  shop.stripe.addCheckoutSession({
    payment_intent: "pi_starter_1",
    customer_details: { email: "session@example.com", name: "Sam <Session>" },
    line_items: [{ price: { id: "price_starter", product: "prod_starter" } }],
  });
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const [email] = sentFor(c.id);
  assert.deepEqual(email?.to, ["session@example.com"]);
  assert.equal(email?.subject, "Your Starter Pack");
  assert.match(String(email?.html), /Hi Sam &lt;Session&gt;/, "HTML bodies escape placeholders");
  assert.match(String(email?.html), /href="https:\/\/example\.com\/dl\/starter"/);
  assert.equal(shop.row(c.id)?.product, "starter");
});

test("a charge is matched by amount and currency, and the email comes from the customer", async () => {
  const customer = shop.stripe.addCustomer({ email: "customer@example.com", name: "Cu <Stomer>" });
  const c = shop.stripe.addCharge({ amount: 1900, currency: "usd", customer: String(customer.id), billing_details: { email: null }, created: now() - 5 });
  await shop.run(["reconcile"]);
  const [email] = sentFor(c.id);
  assert.deepEqual(email?.to, ["customer@example.com"]);
  assert.equal(email?.text, "Your ebook, Cu <Stomer>.\n", "text bodies are not HTML-escaped");
});

test("metadata matching fills the text template with name, product, amount and charge id", async () => {
  const c = shop.stripe.addCharge(paidCharge({ receipt_email: "receipt@example.com", billing_details: { email: null, name: "Ada" }, created: now() - 5 }));
  await shop.run(["reconcile"]);
  const [email] = sentFor(c.id);
  assert.deepEqual(email?.to, ["receipt@example.com"]);
  assert.equal(email?.subject, "Your Ship Fast Skill Pack");
  assert.equal(email?.text, `Hi Ada, here is Ship Fast Skill Pack for $49.00. Ref ${c.id}.\n`);
  assert.equal(email?.from, "Shop <shop@example.com>");
});

test("a delivered charge costs no session or customer lookups on later passes", async () => {
  shop.stripe.resetCounters();
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.stripe.requestCount({ path: /checkout|customers/ }), 0);
  assert.equal(shop.stripe.requestCount({ path: /^\/v1\/charges$/ }), 1, "one list request in steady state");
});
