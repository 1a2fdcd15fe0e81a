import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// Resend allows 20 requests a second while the config says 100: the pacer must follow Resend's
// ratelimit-* headers down, and no charge may be marked failed for a 429. (20/s rather than
// Resend's default 2/s keeps 500 deliveries within a minute or so of real time.)

const N = 500;
let shop: Shop;
before(async () => {
  shop = await Shop.start({ resendRate: 20, config: { resend: { maxPerSecond: 100 } } });
});
after(async () => shop.close());

test("a pass of 500 deliveries against a Resend that allows 20 per second sends each once and marks none failed", async () => {
  const start = Math.floor(Date.now() / 1000) - 120;
  shop.stripe.bulkAddCharges(N, (i) => paidCharge({ id: `ch_rate_${String(i).padStart(4, "0")}`, created: start + Math.floor(i / 5), billing_details: { email: `r${i}@example.com` } }));
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
