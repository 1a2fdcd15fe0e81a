import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

// Issue 10, case 5: a product file changed while a send's outcome is unknown. Through the real
// CLI: what status says, what retry says (and refuses), and what actually fixes it.

let shop: Shop;
before(async () => {
  // Retries due after 1 s, so the test reaches the second attempt without a clock it can move.
  shop = await Shop.start({ config: { from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, retry: { maxAttempts: 8, delays: ["1s"] }, products: DEFAULT_PRODUCTS } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());

async function until(what: string, cond: () => Promise<boolean>, ms = PATIENCE_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a product file changed after a send that may have arrived: retry refuses and says to restore it or resolve; restored, one email in all", async () => {
  const zip = path.join(shop.dir, "products", "ship-fast.zip");
  const original = fs.readFileSync(zip);
  const c = shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 10 }));
  // Resend takes the email, but the answer is lost: the outcome is unknown.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "reset-after-processing" });
  await shop.run(["reconcile"]);
  assert.equal(shop.row(c.id)?.state, "retrying");

  fs.writeFileSync(zip, Buffer.alloc(2048, 9));
  await until("the re-send meets the changed file", async () => {
    await shop.run(["reconcile"]);
    return shop.row(c.id)?.state === "needs_review";
  });
  const status = JSON.parse((await shop.run(["status", "--json", "--offline"])).stdout) as { stuck: { charge: string; reason: string }[] };
  assert.match(status.stuck.find((s) => s.charge === c.id)?.reason ?? "", /ship-fast\.zip changed since the first send/);

  const refused = await shop.run(["retry", c.id]);
  assert.equal(refused.code, 2, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /ship-fast\.zip still differs from the bytes of the first send, whose outcome is unknown/);
  assert.match(refused.stderr, /hint: put the original file back \(2048 bytes, sha256 [0-9a-f]{16}…\) before \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, then paidup retry/);
  assert.match(refused.stderr, new RegExp(`or, if the buyer has it: paidup resolve ${c.id}`));
  assert.equal(shop.row(c.id)?.state, "needs_review", "nothing changed");

  fs.writeFileSync(zip, original);
  const retried = await shop.run(["retry", c.id]);
  assert.equal(retried.code, 0, retried.stderr);
  assert.match(retried.stderr, /may have reached the buyer/);
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(shop.resend.sendsByKey().get(`paidup-${c.id}`), 1, "Resend recognised the repeat: one email");
});
