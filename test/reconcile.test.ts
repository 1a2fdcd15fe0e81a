import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
});
after(async () => shop.close());
beforeEach(() => shop.resend.resetCounters());

const now = () => Math.floor(Date.now() / 1000);
const sentFor = (id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`);

test("a pass delivers paid charges, records the email id, and a second pass sends nothing", async () => {
  const init = await shop.run(["init", "--since", "1h"]);
  assert.equal(init.code, 0, init.stderr);
  const a = shop.stripe.addCharge(paidCharge({ created: now() - 60 }));
  const b = shop.stripe.addCharge(paidCharge({ created: now() - 30, billing_details: { email: "second@example.com", name: "Bo" } }));

  const first = await shop.run(["reconcile", "--json"]);
  assert.equal(first.code, 0, first.stderr);
  const out = JSON.parse(first.stdout);
  assert.equal(out.delivered, 2);
  assert.deepEqual(out.undelivered, []);
  for (const id of [a.id, b.id]) {
    const row = shop.row(id);
    assert.equal(row?.state, "delivered");
    assert.ok(row?.email_id, "delivered rows carry Resend's email id");
  }
  assert.equal(shop.resend.sent.length, 2);
  assert.deepEqual(shop.resend.sent.map((s) => s.idempotencyKey).sort(), [`paidup-${a.id}`, `paidup-${b.id}`].sort());
  const zip = shop.resend.sent[0]?.attachments?.[0];
  assert.equal(zip?.filename, "ship-fast.zip");

  const second = await shop.run(["reconcile", "--json"]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).alreadyDelivered, 2);
  assert.equal(shop.resend.sent.length, 2, "the second pass sent nothing");
});

test("--dry-run sends nothing, writes nothing and says what it would do", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 5, billing_details: { email: "dry@example.com" } }));
  const r = await shop.run(["reconcile", "--dry-run"], { env: { RESEND_API_KEY: undefined } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${c.id}: would deliver ship-fast to dry@example.com`));
  assert.equal(shop.row(c.id), undefined);
  assert.equal(shop.resend.requestCount(), 0);
});

test("a charge that matches no product goes to needs_review with the reason, and the pass exits 1", async () => {
  const c = shop.stripe.addCharge(paidCharge({ amount: 777, metadata: {}, created: now() - 10 }));
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  const entry = out.undelivered.find((u: { charge: string }) => u.charge === c.id);
  assert.deepEqual(entry, {
    charge: c.id, state: "needs_review", reason: "no product matches this charge", attempts: 0,
    amount: 777, currency: "usd", email: "buyer@example.com", product: null, created: new Date(c.created * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
  });
  assert.equal(shop.row(c.id)?.state, "needs_review");
  assert.equal(shop.resend.sentTo("buyer@example.com").filter((s) => s.idempotencyKey === `paidup-${c.id}`).length, 0);
});

test("a paid charge with no email anywhere goes to needs_review", async () => {
  const c = shop.stripe.addCharge(paidCharge({ billing_details: { email: null }, receipt_email: null, created: now() - 5 }));
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 1);
  assert.match(shop.row(c.id)?.reason ?? "", /no customer email/);
});

test("refunded, disputed and failed charges are skipped and never sent", async () => {
  const refunded = shop.stripe.addCharge(paidCharge({ refunded: true, amount_refunded: 4900, created: now() - 5 }));
  const disputed = shop.stripe.addCharge(paidCharge({ disputed: true, created: now() - 5 }));
  const failed = shop.stripe.addCharge(paidCharge({ status: "failed", paid: false, captured: false, created: now() - 5 }));
  await shop.run(["reconcile"]);
  for (const c of [refunded, disputed, failed]) {
    assert.equal(shop.row(c.id)?.state, "skipped");
    assert.equal(shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${c.id}`).length, 0);
  }
  assert.match(shop.row(refunded.id)?.reason ?? "", /refunded/);
});

test("charges created before the start line are never sent and never recorded", async () => {
  const old = shop.stripe.addCharge(paidCharge({ created: now() - 3 * 3600 }));
  const r = await shop.run(["reconcile", "--since", "7d"]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.equal(shop.row(old.id), undefined);
  assert.equal(sentFor(old.id).length, 0);
});

test("a pending charge waits as awaiting_payment and is delivered on the pass after it succeeds", async () => {
  const c = shop.stripe.addCharge(paidCharge({ status: "pending", paid: false, captured: false, created: now() - 5 }));
  await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "awaiting_payment");
  shop.stripe.updateCharge(c.id, { status: "succeeded", paid: true, captured: true });
  const r = await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "delivered", r.stderr);
});

test("an authorised but uncaptured charge is not delivered (paid is not captured)", async () => {
  const c = shop.stripe.addCharge(paidCharge({ captured: false, created: now() - 5 }));
  await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "awaiting_payment");
  assert.equal(sentFor(c.id).length, 0);
});
