import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_PRODUCTS, Shop } from "./helpers/shop";

// The owner's `ignore` rules (CONTRACT.md, "Charges that are not the shop's"): checked before
// anything else, one kind per rule, the reason naming the rule. The charges here would all be
// delivered the $19 ebook by amount without them.

const RULES = [
  { metadata: { source: "saas", plan: "pro" } },
  { metadata: { app_user: "*" } },
  { application: "ca_otherapp" },
  { descriptionPrefix: "Donation" },
];

let shop: Shop;
const base = { from: "Shop <shop@example.com>", replyTo: "help@example.com", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS };
before(async () => {
  shop = await Shop.start({ config: { ignore: RULES } });
  const r = await shop.run(["init", "--since", "2h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);
const buyer = { email: "someone@example.com", name: "Some One" };
const nineteen = (extra: Record<string, unknown>) => shop.stripe.addCharge({ amount: 1900, currency: "usd", billing_details: buyer, created: now() - 5, ...extra });
const rowOf = (id: string) => ({ state: shop.row(id)?.state, reason: shop.row(id)?.reason });

test("each kind of ignore rule skips its charges with the rule as the reason, before the amount rule is tried", async () => {
  const saas = nineteen({ metadata: { source: "saas", plan: "pro", extra: "x" } });
  const anyUser = nineteen({ metadata: { app_user: "u_123" } });
  const connect = nineteen({ application: "ca_otherapp" });
  const donation = nineteen({ description: "Donation to the shop's cat" });
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(rowOf(saas.id), { state: "skipped", reason: 'ignored: {"metadata":{"source":"saas","plan":"pro"}}' });
  assert.deepEqual(rowOf(anyUser.id), { state: "skipped", reason: 'ignored: {"metadata":{"app_user":"*"}}' });
  assert.deepEqual(rowOf(connect.id), { state: "skipped", reason: 'ignored: {"application":"ca_otherapp"}' });
  assert.deepEqual(rowOf(donation.id), { state: "skipped", reason: 'ignored: {"descriptionPrefix":"Donation"}' });
  assert.equal(shop.resend.sent.length, 0);
  const show = await shop.run(["show", connect.id, "--json"]);
  assert.equal((JSON.parse(show.stdout) as { reason: string }).reason, 'ignored: {"application":"ca_otherapp"}');
});

test("every key of a metadata rule must match, and a description only matches by its start", async () => {
  const half = nineteen({ metadata: { source: "saas" } });
  const inside = nineteen({ description: "A Donation" });
  await shop.run(["reconcile"]);
  assert.equal(shop.row(half.id)?.state, "delivered");
  assert.equal(shop.row(inside.id)?.state, "delivered");
});

test("an ignored pending charge is skipped, not awaited", async () => {
  const pending = nineteen({ status: "pending", paid: false, captured: false, metadata: { app_user: "u_9" } });
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0);
  assert.deepEqual(rowOf(pending.id), { state: "skipped", reason: 'ignored: {"metadata":{"app_user":"*"}}' });
});

test("a rule added later skips charges not yet delivered, also those older than the listing window", async () => {
  shop.writeConfig(base);
  const old = nineteen({ amount: 5555, metadata: { source: "partner" }, created: now() - 3600 });
  const r1 = await shop.run(["reconcile", "--since", "2h"]);
  assert.equal(r1.code, 1, "no product matches it: needs_review");
  assert.equal(shop.row(old.id)?.state, "needs_review");
  shop.writeConfig({ ...base, ignore: [...RULES, { metadata: { source: "partner" } }] });
  const r2 = await shop.run(["reconcile"]);
  assert.equal(r2.code, 0, r2.stdout + r2.stderr);
  assert.deepEqual(rowOf(old.id), { state: "skipped", reason: 'ignored: {"metadata":{"source":"partner"}}' });
  shop.stripe.resetCounters();
  await shop.run(["reconcile"]);
  assert.equal(shop.stripe.requestCount({ path: /^\/v1\/charges\/ch_/ }), 0, "open rows are looked at again once per change of the rules, not every pass");
});

test("rules taken out and put back reach the charges recorded while they were out", async () => {
  const rules = [...RULES, { metadata: { source: "partner" } }];
  shop.writeConfig(base);
  const meanwhile = nineteen({ amount: 5556, metadata: { source: "partner" }, created: now() - 3000 });
  assert.equal((await shop.run(["reconcile", "--since", "2h"])).code, 1);
  assert.equal(shop.row(meanwhile.id)?.state, "needs_review");
  shop.writeConfig({ ...base, ignore: rules });
  assert.equal((await shop.run(["reconcile"])).code, 0);
  assert.deepEqual(rowOf(meanwhile.id), { state: "skipped", reason: 'ignored: {"metadata":{"source":"partner"}}' });
  shop.writeConfig({ ...base, ignore: RULES });
});

test("status does not call a charge an ignore rule matches missing", async () => {
  const old = now() - 20 * 60;
  const ignored = nineteen({ application: "ca_otherapp", created: old });
  const unrecorded = nineteen({ amount: 4242, created: old });
  const r = await shop.run(["status", "--json"]);
  const stuck = (JSON.parse(r.stdout) as { stuck: { charge: string; state: string }[] }).stuck;
  assert.deepEqual(stuck.map((s) => [s.charge, s.state]), [[unrecorded.id, "missing"]]);
  assert.ok(!stuck.some((s) => s.charge === ignored.id));
});

test("an unknown rule, or a rule of two kinds, is a configuration error naming the field: exit 2, nothing changed", async () => {
  const before = shop.ledgerSnapshot();
  shop.writeConfig({ ...base, ignore: [{ metadata: { a: "b" } }, { customer: "cus_1" }] });
  let r = await shop.run(["reconcile"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ignore\[1\].*customer/);
  shop.writeConfig({ ...base, ignore: [{ metadata: { a: "b" }, descriptionPrefix: "x" }] });
  r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /ignore\[0\]: a rule has exactly one of metadata, application, descriptionPrefix/);
  assert.equal(shop.ledgerSnapshot(), before);
  shop.writeConfig({ ...base, ignore: RULES });
});

test("paidup check warns when a product matches by amount alone", async () => {
  const r = await shop.run(["check"]);
  assert.match(r.stdout, /^! amount rules: ebook match\(es\) by amount alone/m, r.stdout);
});
