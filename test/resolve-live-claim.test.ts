import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// `resolve` refuses a charge whose claim is still live, as `retry` does: that send may be the one
// that delivers, and "resolved by hand" over it would hide a second email or a lost one.

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());

test("resolve on a sending charge with a live lease exits 2 and changes nothing", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30 }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "hang" });
  // The pass dies mid-send (kill -9): its row stays `sending` under a live 5-minute lease.
  const killed = await shop.run(["reconcile"], {
    onSpawn: (pid) => {
      const timer = setInterval(() => {
        if (shop.resend.requestCount({ method: "POST", path: "/emails" }) > 0) {
          clearInterval(timer);
          process.kill(pid, "SIGKILL");
        }
      }, 20);
    },
  });
  assert.equal(killed.signal, "SIGKILL");
  assert.equal(shop.row(c.id)?.state, "sending");

  const r = await shop.run(["resolve", c.id, "--note", "sent by hand"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /being sent right now/);
  assert.equal(shop.row(c.id)?.state, "sending", "the live claim was not overruled");
  const retry = await shop.run(["retry", c.id]);
  assert.equal(retry.code, 2, "retry refuses it the same way");
});
