import assert from "node:assert/strict";
import { after, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// Exit 0 from `reconcile` means "nothing stuck" (contract, Exit codes): a cron MAILTO or a wrapper
// reading the exit code must not hear silence while a buyer waits, whether or not this pass
// handled the stuck charge.

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function freshShop(): Promise<Shop> {
  const shop = await Shop.start();
  shops.push(shop);
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
  return shop;
}

// Older than the overlap a pass re-lists before its watermark: a later pass does not list it again.
const beforeTheOverlap = (shop: Shop) => shop.stripe.nowSeconds() - 10 * 60;

test("reconcile exits 1 on every pass while a charge Resend refused (422) sits in needs_review, handled or not", async () => {
  const shop = await freshShop();
  const refused = shop.stripe.addCharge(paidCharge({ created: beforeTheOverlap(shop) }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 422, times: 1 });
  assert.equal((await shop.run(["reconcile"])).code, 1);
  assert.equal(shop.row(refused.id)?.state, "needs_review");

  const quiet = await shop.run(["reconcile", "--json"]);
  assert.equal(quiet.code, 1, "nothing handled this pass, but a charge is still stuck");
  assert.deepEqual(JSON.parse(quiet.stdout).undelivered, [], "undelivered stays this pass's own list");
  const human = await shop.run(["reconcile"]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /1 charge\(s\) stuck.*paidup status/);

  const dry = await shop.run(["reconcile", "--dry-run"], { env: { RESEND_API_KEY: undefined } });
  assert.equal(dry.code, 1, "--dry-run exits 1 while something is stuck");

  assert.equal((await shop.run(["resolve", refused.id, "--note", "sent by hand"])).code, 0);
  assert.equal((await shop.run(["reconcile"])).code, 0, "nothing stuck any more");
  assert.equal((await shop.run(["reconcile", "--dry-run"], { env: { RESEND_API_KEY: undefined } })).code, 0);
});

test("reconcile exits 1 while a charge waits for its next retry after Resend was down", async () => {
  const shop = await freshShop();
  const c = shop.stripe.addCharge(paidCharge({ created: beforeTheOverlap(shop) }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: Infinity });
  assert.equal((await shop.run(["reconcile"])).code, 1);
  assert.equal(shop.row(c.id)?.state, "retrying");
  shop.resend.clearFaults();
  const next = await shop.run(["reconcile", "--json"]);
  assert.equal(next.code, 1, "the retry is not due yet, the buyer still waits");
  assert.equal(JSON.parse(next.stdout).seen, 0);
});
