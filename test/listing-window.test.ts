import assert from "node:assert/strict";
import { after, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// The listing window lives on Stripe's clock: `created` is Stripe's, so the host's clock must
// never decide which charges a pass lists. The fake Stripe runs its clock offset from the host's
// (its `Date` header and the `created` of new charges), which is what a host clock minutes off
// looks like from paidup's side. Each test gets its own shop.

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function freshShop(since = "1h"): Promise<Shop> {
  const shop = await Shop.start();
  shops.push(shop);
  const r = await shop.run(["init", "--since", since]);
  assert.equal(r.code, 0, r.stderr);
  return shop;
}

function meta(shop: Shop, key: string): number {
  return Number(shop.query<{ value: string }>(`SELECT value FROM meta WHERE key = '${key}'`)[0]?.value);
}

const MINUTE = 60_000;
const sentFor = (shop: Shop, id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length;

test("with the host clock 5 minutes fast, every charge paid between two passes is delivered by the second", async () => {
  const shop = await freshShop();
  shop.stripe.clockOffsetMs = -5 * MINUTE; // Stripe's clock is 5 minutes behind the host's
  assert.equal((await shop.run(["reconcile"])).code, 0);
  const paid = [1, 2, 3].map((i) => shop.stripe.addCharge(paidCharge({ billing_details: { email: `fast${i}@example.com` } })));
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).delivered, 3);
  for (const c of paid) assert.equal(sentFor(shop, c.id), 1, `${c.id} delivered once`);
  assert.ok(meta(shop, "watermark") <= shop.stripe.nowSeconds(), "the watermark is on Stripe's clock, not ahead of it");
});

test("with the host clock 5 minutes slow, a pass delivers a charge paid just before it (no upper bound on the host's clock)", async () => {
  const shop = await freshShop();
  shop.stripe.clockOffsetMs = 5 * MINUTE; // Stripe's clock is 5 minutes ahead of the host's
  assert.equal((await shop.run(["reconcile"])).code, 0);
  const paid = [1, 2, 3].map((i) => shop.stripe.addCharge(paidCharge({ billing_details: { email: `slow${i}@example.com` } })));
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).delivered, 3, "none was cut off by created[lte] = the host's now");
  for (const c of paid) assert.equal(sentFor(shop, c.id), 1);
});

test("reconcile --since 5m after hours without passes still delivers a charge paid 2 hours ago (--since only widens)", async () => {
  const shop = await freshShop("4h");
  const twoHoursAgo = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 2 * 3600, billing_details: { email: "early@example.com" } }));
  const narrow = await shop.run(["reconcile", "--since", "5m", "--json"]);
  assert.equal(narrow.code, 0, narrow.stderr);
  assert.equal(JSON.parse(narrow.stdout).delivered, 1);
  assert.equal(sentFor(shop, twoHoursAgo.id), 1);
});

test("reconcile --since widens the pass back to <when>, and the watermark never moves backwards", async () => {
  const shop = await freshShop("6h");
  assert.equal((await shop.run(["reconcile"])).code, 0);
  const watermark = meta(shop, "watermark");
  // Listed late: created 3 hours ago, long after the passes moved past that second.
  const late = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 3 * 3600, billing_details: { email: "late@example.com" } }));
  const deep = await shop.run(["reconcile", "--since", "4h", "--json"]);
  assert.equal(deep.code, 0, deep.stderr);
  assert.equal(sentFor(shop, late.id), 1, "the deep re-check reached it");
  assert.ok(meta(shop, "watermark") >= watermark, "a wide pass never pulls the watermark back");
});

test("--since before the start line lists nothing older than the start line", async () => {
  const shop = await freshShop("1h");
  const old = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 3 * 3600 }));
  const r = await shop.run(["reconcile", "--since", "7d"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(old.id), undefined);
  assert.equal(sentFor(shop, old.id), 0);
});

test("a pass that stops on a Stripe failure leaves the watermark where it was", async () => {
  const shop = await freshShop();
  assert.equal((await shop.run(["reconcile"])).code, 0);
  const watermark = meta(shop, "watermark");
  shop.stripe.clockOffsetMs = 30 * MINUTE;
  shop.stripe.addFault({ method: "GET", path: "/v1/charges", kind: "status", status: 500, times: Infinity });
  assert.equal((await shop.run(["reconcile"])).code, 3);
  assert.equal(meta(shop, "watermark"), watermark);
});

test("with the host clock 5 minutes fast, init's default start line is on Stripe's clock: a charge paid right after init is delivered", async () => {
  const shop = await Shop.start();
  shops.push(shop);
  shop.stripe.clockOffsetMs = -5 * MINUTE;
  const init = await shop.run(["init"]);
  assert.equal(init.code, 0, init.stderr);
  assert.ok(meta(shop, "start_line") <= shop.stripe.nowSeconds(), "the start line is not in Stripe's future");
  const c = shop.stripe.addCharge(paidCharge({ billing_details: { email: "first@example.com" } }));
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sentFor(shop, c.id), 1, "not skipped as before the start line");
});
