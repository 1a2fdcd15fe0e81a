import assert from "node:assert/strict";
import { after, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// A charge Stripe lists late (after the passes moved past its `created` second) must still reach
// its buyer: later passes re-list the last 72 hours hourly, `status` reports it as `missing` over
// a fixed look-back, and `show`, `retry` and `resolve` work on it. "An hour later" is Stripe's
// clock moved on (the fake's clock offset): the re-list's cadence is on Stripe's clock too.

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function freshShop(config: Record<string, unknown> = {}): Promise<Shop> {
  const shop = await Shop.start({ config });
  shops.push(shop);
  const r = await shop.run(["init", "--since", "6h"]);
  assert.equal(r.code, 0, r.stderr);
  // The first pass after init does the deep re-list; later ones only the recent window.
  assert.equal((await shop.run(["reconcile"])).code, 0);
  return shop;
}

const HOUR = 3_600_000;
const sentFor = (shop: Shop, id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length;
const missingIn = (stdout: string) => (JSON.parse(stdout).stuck as { charge: string; state: string }[]).filter((e) => e.state === "missing").map((e) => e.charge);

/** A paid charge that shows up in Stripe's list only now, `agoS` seconds after its `created`. */
function listedLate(shop: Shop, agoS: number, email = "late@example.com") {
  return shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - agoS, billing_details: { email, name: "Late" } }));
}

test("a charge Stripe lists 30 minutes late is missing until the hourly deep re-list delivers it, on its own", async () => {
  const shop = await freshShop();
  const late = listedLate(shop, 30 * 60);
  const r = await shop.run(["reconcile"]);
  assert.equal(sentFor(shop, late.id), 0, "the recent window is past its second");
  assert.equal(r.code, 0, r.stderr);
  const status = await shop.run(["status", "--json"]);
  assert.equal(status.code, 1);
  assert.deepEqual(missingIn(status.stdout), [late.id]);

  shop.stripe.clockOffsetMs = HOUR + 60_000; // an hour later on Stripe's clock
  const later = await shop.run(["reconcile", "--json"]);
  assert.equal(later.code, 0, later.stderr);
  assert.equal(sentFor(shop, late.id), 1, "delivered by the deep re-list, without --since");
  assert.equal(shop.row(late.id)?.state, "delivered");
  assert.deepEqual(missingIn((await shop.run(["status", "--json"])).stdout), []);
  const requestsBefore = shop.stripe.requestCount({ path: "/v1/charges" });
  await shop.run(["reconcile"]);
  assert.equal(shop.stripe.requestCount({ path: "/v1/charges" }) - requestsBefore, 1, "the next pass lists only the recent window");
});

test("status keeps reporting a late-listed charge as missing however far the passes have moved on (fixed 72 h look-back)", async () => {
  const shop = await freshShop();
  const late = listedLate(shop, 3 * 3600);
  await shop.run(["reconcile"]);
  const status = await shop.run(["status", "--json"]);
  assert.deepEqual(missingIn(status.stdout), [late.id]);
  const human = await shop.run(["status"]);
  assert.match(human.stdout, new RegExp(`${late.id}\\s+missing\\s+3h`));
});

test("show prints Stripe's facts for a missing charge", async () => {
  const shop = await freshShop();
  const late = listedLate(shop, 40 * 60, "shown@example.com");
  const json = await shop.run(["show", late.id, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const entry = JSON.parse(json.stdout);
  assert.equal(entry.state, "missing");
  assert.equal(entry.email, "shown@example.com");
  assert.equal(entry.amount, 4900);
  assert.deepEqual(entry.attempts, []);
  const human = await shop.run(["show", late.id]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /state\s+missing/);
  assert.match(human.stdout, /stripe\s+status succeeded, paid yes, captured yes, refunded no, disputed no/);
});

test("retry on a missing charge fetches it from Stripe and takes it in line: the next pass delivers it", async () => {
  const shop = await freshShop();
  const late = listedLate(shop, 40 * 60, "retried@example.com");
  const r = await shop.run(["retry", late.id]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /in line/);
  assert.equal(shop.row(late.id)?.state, "retrying");
  assert.equal(sentFor(shop, late.id), 0, "retry itself sends nothing");
  const pass = await shop.run(["reconcile"]);
  assert.equal(pass.code, 0, pass.stderr);
  assert.equal(sentFor(shop, late.id), 1);
  assert.equal(shop.row(late.id)?.state, "delivered");
});

test("resolve on a missing charge records the delivery by hand, and no pass sends it afterwards", async () => {
  const shop = await freshShop();
  const late = listedLate(shop, 40 * 60);
  const r = await shop.run(["resolve", late.id, "--note", "sent the zip by hand"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(late.id)?.state, "resolved");
  shop.stripe.clockOffsetMs = HOUR + 60_000;
  assert.equal((await shop.run(["reconcile"])).code, 0);
  assert.equal(sentFor(shop, late.id), 0);
  assert.deepEqual(missingIn((await shop.run(["status", "--json"])).stdout), []);
});

test("show, retry and resolve on a charge id neither the ledger nor Stripe knows exit 2", async () => {
  const shop = await freshShop();
  for (const args of [["show", "ch_nobody"], ["retry", "ch_nobody"], ["resolve", "ch_nobody", "--note", "x"]]) {
    const r = await shop.run(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /neither the ledger nor Stripe knows ch_nobody/);
  }
});

test("a late-listed charge the deep re-list cannot deliver is alerted once, like any stuck charge", async () => {
  const shop = await freshShop({ alertTo: "owner@example.com" });
  const late = shop.stripe.addCharge(paidCharge({ metadata: {}, amount: 777, created: shop.stripe.nowSeconds() - 30 * 60 }));
  shop.stripe.clockOffsetMs = HOUR + 60_000;
  assert.equal((await shop.run(["reconcile"])).code, 1);
  const alerts = () => shop.resend.sentTo("owner@example.com");
  assert.equal(alerts().length, 1);
  assert.match(alerts()[0]?.text ?? "", new RegExp(`${late.id}\\s+needs_review`));
  shop.stripe.clockOffsetMs = 2 * HOUR + 120_000;
  assert.equal((await shop.run(["reconcile"])).code, 1);
  assert.equal(alerts().length, 1, "once per stuck episode");
});
