import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { inProcess } from "./helpers/in-process";
import { paidCharge, Shop } from "./helpers/shop";

// A send whose outcome is unknown is repeated (same key, same payload) only while Resend still
// remembers the key (24 h). The check happens when the charge is claimed, but one claim may then
// wait out several 429s: paidup repeats only within 23 h of the first try, and checks again before
// every request inside the claim. Passes run in-process on a ManualClock.

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

let shop: Shop;
before(async () => {
  shop = await Shop.start();
});
after(async () => shop.close());
beforeEach(() => shop.resend.clearFaults());

const HOUR = 3_600_000;
let seq = 0;
async function unknownOutcome() {
  seq++;
  const c = shop.stripe.addCharge(paidCharge({ id: `ch_margin_${seq}`, created: Math.floor(Date.now() / 1000) - 100 + seq, billing_details: { email: `m${seq}@example.com` } }));
  const p = await inProcess(shop, { startLine: c.created });
  // Resend answers 500: the email may or may not have gone.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500 });
  await p.pass();
  const row = await p.row(c.id);
  assert.equal(row?.state, "retrying");
  assert.equal(row?.outcome_unknown, 1);
  return { c, p, firstTry: row?.first_sent_at as number };
}
const requestsFor = (id: string) => shop.resend.requests.filter((r) => r.idempotencyKey === `paidup-${id}`).length;

test("an unknown-outcome send is not repeated 23.5 h after its first try: needs_review, outcome unknown", async () => {
  const { c, p, firstTry } = await unknownOutcome();
  try {
    p.clock.advance(firstTry + 23.5 * HOUR - p.clock.now());
    await p.pass();
    const row = await p.row(c.id);
    assert.equal(row?.state, "needs_review");
    assert.match(row?.reason ?? "", /^outcome of send unknown/);
    assert.equal(requestsFor(c.id), 1, "no repeat so close to the end of Resend's window");
  } finally {
    await p.close();
  }
});

test("429s waited out inside one claim never carry a repeat past 23 h after the first try", async () => {
  const { c, p, firstTry } = await unknownOutcome();
  try {
    // Claimed 30 s inside the margin; then Resend says "slow down" for a minute.
    p.clock.advance(firstTry + 23 * HOUR - 30_000 - p.clock.now());
    shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 429, headers: { "retry-after": "60" } });
    await p.pass();
    const row = await p.row(c.id);
    assert.equal(row?.state, "needs_review");
    assert.match(row?.reason ?? "", /^outcome of send unknown: .*idempotency window was about to close/);
    assert.equal(row?.outcome_unknown, 1);
    assert.equal(requestsFor(c.id), 2, "the first try and the one Resend refused with 429; no request after the deadline");
  } finally {
    await p.close();
  }
});

test("well inside the window, an unknown-outcome send is repeated with the same key and delivered once", async () => {
  const { c, p } = await unknownOutcome();
  try {
    p.clock.advance(2 * HOUR);
    await p.pass();
    assert.equal((await p.row(c.id))?.state, "delivered");
    assert.equal(requestsFor(c.id), 2);
    assert.equal(shop.resend.sendsByKey().get(`paidup-${c.id}`), 1);
  } finally {
    await p.close();
  }
});
