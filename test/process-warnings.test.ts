import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// Node prints its own warnings on stderr, which a cron MAILTO forwards to the owner as if
// something were wrong. A normal pass must print none.

let shop: Shop;
before(async () => {
  shop = await Shop.start();
});
after(async () => shop.close());

test("a pass that keeps many sends waiting for their turn prints no Node warning", async () => {
  const init = await shop.run(["init", "--since", "1h"]);
  assert.equal(init.code, 0, init.stderr);
  const created = Math.floor(Date.now() / 1000) - 60;
  for (let i = 0; i < 40; i++) shop.stripe.addCharge(paidCharge({ created, billing_details: { email: `w${i}@example.com`, name: "W" } }));

  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).delivered, 40);
  assert.doesNotMatch(r.stderr, /Warning/, "no MaxListenersExceededWarning or other process warning");
});
