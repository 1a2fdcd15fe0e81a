import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1d"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

function sendsPerCharge(): Map<string, number> {
  return shop.resend.sendsByKey();
}

test("a pass over 1,250 charges across 13 pages sends each exactly once", async () => {
  const start = Math.floor(Date.now() / 1000) - 1300;
  shop.stripe.bulkAddCharges(1250, (i) => paidCharge({ id: `ch_bulk_${String(i).padStart(5, "0")}`, created: start + i, billing_details: { email: `b${i}@example.com`, name: `B ${i}` } }));
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.delivered, 1250);
  assert.ok(shop.stripe.requestCount({ path: /^\/v1\/charges$/ }) >= 13, "the listing was paged");
  const sends = sendsPerCharge();
  assert.equal(sends.size, 1250);
  assert.ok([...sends.values()].every((n) => n === 1), "each charge sent exactly once");

  const again = await shop.run(["reconcile", "--json"]);
  assert.equal(JSON.parse(again.stdout).delivered, 0);
  assert.equal(shop.resend.sent.length, 1250);
});

test("two passes started at the same moment send each charge once", async () => {
  // Created just now, as a live shop's charges are (a pass re-lists only a short overlap).
  const start = Math.floor(Date.now() / 1000) - 60;
  shop.stripe.bulkAddCharges(150, (i) => paidCharge({ id: `ch_race_${String(i).padStart(4, "0")}`, created: start + Math.floor(i / 3), billing_details: { email: `r${i}@example.com` } }));
  const [a, b] = await Promise.all([shop.run(["reconcile", "--json"]), shop.run(["reconcile", "--json"])]);
  assert.ok(a.code !== null && a.code <= 1 && b.code !== null && b.code <= 1, a.stderr + b.stderr);
  const delivered = JSON.parse(a.stdout).delivered + JSON.parse(b.stdout).delivered;
  assert.equal(delivered, 150, "between them the two passes delivered each new charge once");
  const sends = sendsPerCharge();
  const race = [...sends.entries()].filter(([k]) => k.startsWith("paidup-ch_race_"));
  assert.equal(race.length, 150);
  assert.ok(race.every(([, n]) => n === 1), "no charge was emailed twice");
  assert.ok(shop.rows().filter((r) => r.id.startsWith("ch_race_")).every((r) => r.state === "delivered"));
});
