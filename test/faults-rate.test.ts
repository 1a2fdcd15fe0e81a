import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// Resend allows 2 requests a second while the config says 10: the pacer must follow Resend's
// ratelimit-* headers down, and no charge may be marked failed for a 429.
// 200 charges (not 500): at 2/s a pass of 500 would take over four minutes of real time.

const N = 200;
let shop: Shop;
before(async () => {
  shop = await Shop.start({ resendRate: 2, config: { resend: { maxPerSecond: 10 } } });
});
after(async () => shop.close());

test("a pass of 200 deliveries against a Resend that allows 2 per second sends each once and marks none failed", async () => {
  const start = Math.floor(Date.now() / 1000) - 120;
  shop.stripe.bulkAddCharges(N, (i) => paidCharge({ id: `ch_rate_${String(i).padStart(4, "0")}`, created: start + Math.floor(i / 2), billing_details: { email: `r${i}@example.com` } }));
  assert.equal((await shop.run(["init", "--since", new Date(start * 1000).toISOString()])).code, 0);
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.delivered, N);
  assert.equal(out.retrying + out.needsReview, 0, "no charge was marked failed");
  const sends = [...shop.resend.sendsByKey().values()];
  assert.equal(sends.length, N);
  assert.ok(sends.every((n) => n === 1), "each charge emailed once");

  const times = shop.resend.emailStartTimes();
  const rejected = times.length - N;
  assert.ok(rejected <= 5, `the pacer followed the headers down: ${rejected} requests got a 429`);
  console.log(`# rate: ${N} emails in ${(times[times.length - 1]! - times[0]!) / 1000} s, ${rejected} answered 429`);
});
