import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);
const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const sendsOf = (id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length;

test("show --json prints the stuck-entry shape with attempts as a list, oldest first", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 30, billing_details: { email: "show@example.com", name: "S" } }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500 });
  assert.equal((await shop.run(["reconcile"])).code, 1);
  const requeued = await shop.run(["retry", c.id, "--note", "Resend had an outage"]);
  assert.equal(requeued.code, 0, requeued.stderr);
  const r = await shop.run(["show", c.id, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  // emailEvents: what Resend said about the emails sent (none here: nothing was accepted).
  assert.deepEqual(Object.keys(out), ["charge", "state", "reason", "attempts", "amount", "currency", "email", "product", "created", "products", "emailEvents", "stripe"]);
  assert.deepEqual({ ...out, attempts: undefined, stripe: undefined }, {
    emailEvents: [],
    charge: c.id, state: "retrying", reason: "retry requested by the operator", attempts: undefined,
    amount: 4900, currency: "usd", email: "show@example.com", product: "ship-fast", created: iso(c.created),
    products: [{ key: "ship-fast", state: "retrying", emailId: null }], stripe: undefined,
  });
  assert.equal(out.attempts.length, 2);
  const [failed, retried] = out.attempts;
  assert.deepEqual(Object.keys(failed), ["at", "outcome", "emailId", "error", "note"]);
  assert.equal(failed.outcome, "unknown", "a 500 may have sent: its outcome is unknown");
  assert.match(failed.error, /Resend server error/);
  assert.deepEqual([retried.outcome, retried.note, retried.emailId], ["retry_requested", "Resend had an outage", null]);
  assert.match(failed.at, ISO);
  assert.ok(failed.at <= retried.at);
});

test("show prints Stripe's facts for the charge when a key is available, and the ledger alone without one", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 20 }));
  await shop.run(["reconcile"]);
  const r = await shop.run(["show", c.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`charge\\s+${c.id}`));
  assert.match(r.stdout, /state\s+delivered, email id /);
  assert.match(r.stdout, /stripe\s+status succeeded, paid yes, captured yes, refunded no, disputed no/);
  assert.match(r.stdout, /Z {2}delivered {2}email id /);
  const offline = await shop.run(["show", c.id], { env: { STRIPE_SECRET_KEY: undefined } });
  assert.equal(offline.code, 0, offline.stderr);
  assert.match(offline.stdout, /stripe\s+not asked \(no STRIPE_SECRET_KEY\)/);
});

test("show --json carries the Stripe facts the text form shows, and says why when Stripe was not asked", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 15 }));
  await shop.run(["reconcile"]);
  shop.stripe.updateCharge(c.id, { amount_refunded: 1000 });
  const r = await shop.run(["show", c.id, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.stripe, { status: "succeeded", paid: true, captured: true, refunded: false, amountRefunded: 1000, disputed: false });
  assert.equal(out.stripeNote, undefined);
  assert.match((await shop.run(["show", c.id])).stdout, /stripe\s+status succeeded, paid yes, captured yes, refunded partly \(\$10\.00\), disputed no/);
  const offline = JSON.parse((await shop.run(["show", c.id, "--json"], { env: { STRIPE_SECRET_KEY: undefined } })).stdout);
  assert.equal(offline.stripe, null);
  assert.equal(offline.stripeNote, "not asked (no STRIPE_SECRET_KEY)");
});

test("show pi_… shows the PaymentIntent's charge, and without a key says to use the ch_ id", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 12, payment_intent: "pi_showme123" }));
  shop.stripe.addPaymentIntent({ id: "pi_showme123", latest_charge: c.id });
  await shop.run(["reconcile"]);
  const r = await shop.run(["show", "pi_showme123"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`pi_showme123 is a PaymentIntent; showing its charge ${c.id}`));
  assert.match(r.stdout, new RegExp(`charge\\s+${c.id}`));
  const offline = await shop.run(["show", "pi_showme123"], { env: { STRIPE_SECRET_KEY: undefined } });
  assert.equal(offline.code, 2);
  assert.match(offline.stderr, /pi_showme123 is a PaymentIntent id; paidup knows charges by their charge id \(ch_…\)/);
  const unknown = await shop.run(["show", "pi_nobodyknows"]);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /Stripe knows no PaymentIntent pi_nobodyknows/);
  for (const args of [["retry", "pi_showme123"], ["resolve", "pi_showme123", "--note", "x"]]) {
    const other = await shop.run(args);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /is a PaymentIntent id; paidup knows charges by their charge id/, args[0]);
  }
});

test("retry on a charge whose send outcome is unknown warns that the buyer may already have it", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 11, billing_details: { email: "maybe@example.com" } }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500 });
  await shop.run(["reconcile"]);
  const r = await shop.run(["retry", c.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`warning: an earlier send of ${c.id} may have reached the buyer`));
  assert.match(r.stderr, /Resend recognises the repeat and does not send a second email/);
  assert.match(r.stderr, new RegExp(`paidup resolve ${c.id} --note`));
  const clean = shop.stripe.addCharge(paidCharge({ amount: 557, metadata: {}, created: now() - 10 }));
  await shop.run(["reconcile"]);
  assert.doesNotMatch((await shop.run(["retry", clean.id])).stderr, /warning/, "a charge never sent gets no warning");
});

test("show, retry and resolve exit 2 for a charge id neither the ledger nor Stripe knows", async () => {
  for (const args of [["show", "ch_nope"], ["retry", "ch_nope"], ["resolve", "ch_nope", "--note", "x"]]) {
    const r = await shop.run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /neither the ledger nor Stripe knows ch_nope/);
  }
});

test("retry puts a needs_review charge back in line, and the next pass delivers it once the cause is fixed", async () => {
  const c = shop.stripe.addCharge(paidCharge({ amount: 1234, metadata: {}, created: now() - 10, billing_details: { email: "fixme@example.com" } }));
  await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "needs_review");
  shop.writeConfig({ from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: [...DEFAULT_PRODUCTS, { key: "late", match: { amount: 1234, currency: "usd" }, subject: "Yours", text: "templates/ebook.txt" }] });
  const retry = await shop.run(["retry", c.id]);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /back in line/);
  assert.equal(shop.row(c.id)?.state, "retrying");
  await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sendsOf(c.id), 1);
  shop.writeConfig({ from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS });
});

test("retry refuses a delivered charge with exit 2 and says why", async () => {
  const delivered = shop.rows().find((r) => r.state === "delivered");
  assert.ok(delivered);
  const r = await shop.run(["retry", delivered.id]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${delivered.id} is delivered; only a charge in needs_review or retrying can be retried`));
  assert.equal(shop.row(delivered.id)?.state, "delivered");
});

test("resolve records a delivery by hand: the charge leaves status and no pass sends it", async () => {
  const c = shop.stripe.addCharge(paidCharge({ amount: 555, metadata: {}, created: now() - 10 }));
  await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "needs_review");
  const r = await shop.run(["resolve", c.id, "--note", "mailed the zip by hand"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(c.id)?.state, "resolved");
  const status = JSON.parse((await shop.run(["status", "--json", "--offline"])).stdout);
  assert.ok(!status.stuck.some((e: { charge: string }) => e.charge === c.id));
  const show = JSON.parse((await shop.run(["show", c.id, "--json"])).stdout);
  assert.deepEqual(show.attempts.map((a: { outcome: string; note: string }) => [a.outcome, a.note]), [["resolved", "mailed the zip by hand"]]);
  await shop.run(["reconcile", "--since", "1h"]);
  assert.equal(sendsOf(c.id), 0);
  assert.equal(shop.row(c.id)?.state, "resolved");
  const again = await shop.run(["resolve", c.id, "--note", "twice"]);
  assert.equal(again.code, 2);
});

test("resolve without --note exits 2 and changes nothing", async () => {
  const c = shop.stripe.addCharge(paidCharge({ amount: 556, metadata: {}, created: now() - 10 }));
  await shop.run(["reconcile"]);
  for (const args of [["resolve", c.id], ["resolve", c.id, "--note", "  "]]) {
    const r = await shop.run(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, /--note/);
  }
  assert.equal(shop.row(c.id)?.state, "needs_review");
});
