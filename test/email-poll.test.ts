import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { inProcess } from "./helpers/in-process";
import { paidCharge, Shop } from "./helpers/shop";

// Without Resend's webhook, passes ask `emails.get` for the last event of recent deliveries:
// a bounce is noticed on its own, within the rate limit, taking at most a fifth of it.

// A fresh shop per test: the fake Stripe's charges would otherwise be delivered again into the
// next test's fresh ledger and asked about too.
let shop: Shop;
beforeEach(async () => {
  shop = await Shop.start();
});
afterEach(async () => shop.close());

const gets = () => shop.resend.requests.filter((r) => r.method === "GET" && r.path.startsWith("/emails/")).length;

test("a delivery Resend reports bounced (emails.get last_event) is bounced by a later pass, with no webhook", async () => {
  const p = await inProcess(shop);
  try {
    const c = shop.stripe.addCharge(paidCharge({ created: Math.floor(p.clock.now() / 1000) - 10, billing_details: { email: "gone@example.com" } }));
    await p.runPass();
    const emailId = (await p.row(c.id))?.email_id as string;
    assert.ok(emailId);
    const before = gets();
    await p.runPass();
    assert.equal(gets(), before, "not asked in its first minutes: a bounce takes a few");

    shop.resend.lastEvents.set(emailId, "bounced");
    p.clock.advance(6 * 60_000);
    await p.runPass();
    assert.equal(gets(), before + 1);
    assert.equal((await p.row(c.id))?.state, "bounced");
    assert.match((await p.row(c.id))?.reason ?? "", /email\.bounced/);
    const events = await p.deps.ledger.emailEventsOf(c.id);
    assert.deepEqual(events.map((e) => [e.type, e.source]), [["email.bounced", "poll"]]);

    // A final status ends the asking.
    p.clock.advance(60 * 60_000);
    await p.runPass();
    assert.equal(gets(), before + 1);
  } finally {
    await p.close();
  }
});

test("an email still without a final status is asked again after 15 minutes, not every pass", async () => {
  const p = await inProcess(shop);
  try {
    const c = shop.stripe.addCharge(paidCharge({ created: Math.floor(p.clock.now() / 1000) - 10, billing_details: { email: "slow@example.com" } }));
    await p.runPass();
    const emailId = (await p.row(c.id))?.email_id as string;
    shop.resend.lastEvents.set(emailId, "sent");
    const before = gets();
    p.clock.advance(6 * 60_000);
    await p.runPass();
    p.clock.advance(60_000);
    await p.runPass();
    assert.equal(gets(), before + 1, "asked once in 7 minutes");
    p.clock.advance(15 * 60_000);
    await p.runPass();
    assert.equal(gets(), before + 2);
    assert.equal((await p.row(c.id))?.state, "delivered");
  } finally {
    await p.close();
  }
});

test("polls take at most a fifth of the send rate: at 1 send a second, 12 reads a minute", async () => {
  const p = await inProcess(shop, { maxPerSecond: 1 });
  try {
    const created = Math.floor(p.clock.now() / 1000) - 10;
    for (let i = 0; i < 30; i++) shop.stripe.addCharge(paidCharge({ created, billing_details: { email: `many${i}@example.com` } }));
    await p.runPass();
    const before = gets();
    p.clock.advance(6 * 60_000);
    await p.runPass();
    assert.equal(gets() - before, 12);
    // The next pass a second later has a second's budget: a fifth of a send, so no read.
    p.clock.advance(1000);
    await p.runPass();
    assert.equal(gets() - before, 12);
  } finally {
    await p.close();
  }
});
