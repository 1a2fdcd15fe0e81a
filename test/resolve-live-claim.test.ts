import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";

// `resolve` refuses a charge whose claim is still live, as `retry` does: that send may be the one
// that delivers, and "resolved by hand" over it would hide a second email or a lost one. On a
// charge that bought several products, any one product's live claim is enough to refuse.

// A second product whose file is missing: its delivery waits in review while the other is sent.
const COURSE = {
  key: "course", name: "Course", match: { price: "price_course" }, subject: "Your course",
  text: "templates/ship-fast.txt", attachments: ["products/course.zip"],
};

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { products: [...DEFAULT_PRODUCTS, COURSE] } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());

/** Runs a pass and kills it (kill -9) once its first send reached Resend, which hangs it. */
async function killMidSend(): Promise<void> {
  const before = shop.resend.requestCount({ method: "POST", path: "/emails" });
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "hang" });
  const killed = await shop.run(["reconcile"], {
    onSpawn: (pid) => {
      const timer = setInterval(() => {
        if (shop.resend.requestCount({ method: "POST", path: "/emails" }) > before) {
          clearInterval(timer);
          process.kill(pid, "SIGKILL");
        }
      }, 20);
    },
  });
  assert.equal(killed.signal, "SIGKILL");
  shop.resend.clearFaults();
}

test("resolve on a sending charge with a live lease exits 2 and changes nothing", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30 }));
  // The pass dies mid-send (kill -9): its row stays `sending` under a live 5-minute lease.
  await killMidSend();
  assert.equal(shop.row(c.id)?.state, "sending");

  const r = await shop.run(["resolve", c.id, "--note", "sent by hand"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /being sent right now/);
  assert.equal(shop.row(c.id)?.state, "sending", "the live claim was not overruled");
  const retry = await shop.run(["retry", c.id]);
  assert.equal(retry.code, 2, "retry refuses it the same way");
});

test("resolve on a two-product charge refuses while one product's claim is live, even when the charge reads needs_review", async () => {
  const pi = "pi_two_products";
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, payment_intent: pi, metadata: {} }));
  shop.stripe.addCheckoutSession({
    payment_intent: pi,
    line_items: [{ price: { id: "price_starter", product: "prod_starter" } }, { price: { id: "price_course", product: "prod_course" } }],
  });
  // Starter's send hangs and its pass dies (kill -9); course waits in review for its file.
  await killMidSend();
  const products = shop.query<{ product: string; state: string }>(`SELECT product, state FROM deliveries WHERE charge_id = '${c.id}' ORDER BY position`);
  assert.deepEqual(products, [{ product: "starter", state: "sending" }, { product: "course", state: "needs_review" }]);
  // The charge takes the state of its furthest product: needs_review, with starter's send in flight.
  assert.equal(shop.row(c.id)?.state, "needs_review");

  const r = await shop.run(["resolve", c.id, "--note", "sent by hand"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /being sent right now/);
  assert.match(r.stderr, /starter/, "names the product whose send is in flight");
  assert.equal(shop.row(c.id)?.state, "needs_review", "nothing resolved");
  assert.deepEqual(shop.query<{ state: string }>(`SELECT state FROM deliveries WHERE charge_id = '${c.id}' ORDER BY position`).map((d) => d.state), ["sending", "needs_review"]);
});
