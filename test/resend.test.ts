import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { courseConfig, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { paidCharge, Shop } from "./helpers/shop";

// `paidup resend` through the real CLI against the fakes.

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: courseConfig() });
  writeCourseFiles(shop.dir);
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

function attempts(charge: string): { outcome: string; email_id: string | null; note: string | null }[] {
  return shop.query(`SELECT outcome, email_id, note FROM attempts WHERE charge_id = '${charge}' ORDER BY id`);
}

async function delivered(extra: Record<string, unknown>): Promise<string> {
  const charge = shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 5, ...extra }));
  // Exit 1 is fine here: another test leaves a charge in needs_review on purpose.
  const r = await shop.run(["reconcile"]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.equal(shop.row(charge.id)?.state, "delivered");
  return charge.id;
}

test("resend sends a new email with key paidup-<charge>-r1, then -r2, each recorded as an attempt", async () => {
  const charge = await delivered({ billing_details: { email: "again@example.com", name: "Ada" } });
  for (const n of [1, 2]) {
    const r = await shop.run(["resend", charge]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`re-sent to again@example.com \\(r${n}, email id `));
  }
  const keys = shop.resend.sentTo("again@example.com").map((m) => m.idempotencyKey);
  assert.deepEqual(keys, [`paidup-${charge}`, `paidup-${charge}-r1`, `paidup-${charge}-r2`]);
  assert.equal(shop.resend.sentTo("again@example.com")[1]?.attachments.length, 1, "the attachment goes again");
  assert.deepEqual(attempts(charge).map((a) => [a.outcome, a.note]), [
    ["delivered", null], ["resent", "r1: ship-fast to again@example.com"], ["resent", "r2: ship-fast to again@example.com"],
  ]);
});

test("resend --to sends to the corrected address and later sends go there too", async () => {
  const charge = await delivered({ billing_details: { email: "typo@exmaple.com", name: "Ada" } });
  const r = await shop.run(["resend", charge, "--to", "right@example.com"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.resend.sentTo("right@example.com").length, 1);
  assert.equal(shop.row(charge)?.email, "right@example.com");
  assert.equal((await shop.run(["resend", charge])).code, 0);
  assert.equal(shop.resend.sentTo("right@example.com").length, 2);
  assert.equal(shop.resend.sentTo("typo@exmaple.com").length, 1, "only the first email went to the typo");
});

test("a re-sent course carries fresh links, different from the first email's", async () => {
  const charge = await delivered({ metadata: { product: "course" }, billing_details: { email: "fresh@example.com", name: "Ada" } });
  assert.equal((await shop.run(["resend", charge])).code, 0);
  const [first, second] = shop.resend.sentTo("fresh@example.com").map((m) => linksIn(m.text));
  assert.equal(first?.size, 2);
  assert.equal(second?.size, 2);
  for (const [file, url] of first ?? []) assert.notEqual(second?.get(file), url, file);
});

test("resend of a charge that is not delivered, unknown, or given a bad --to is exit 2 and sends nothing", async () => {
  const before = shop.resend.sent.length;
  const pending = shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 5, metadata: {}, amount: 777 }));
  await shop.run(["reconcile"]);
  assert.equal(shop.row(pending.id)?.state, "needs_review");
  const notDelivered = await shop.run(["resend", pending.id]);
  assert.equal(notDelivered.code, 2);
  assert.match(notDelivered.stderr, /needs_review; only a delivered, resolved or bounced charge can be re-sent/);
  assert.equal((await shop.run(["resend", "ch_nope"])).code, 2);
  const charge = await delivered({ billing_details: { email: "bad-to@example.com" } });
  const badTo = await shop.run(["resend", charge, "--to", "not an address"]);
  assert.equal(badTo.code, 2);
  assert.equal(shop.resend.sent.length, before + 1, "only the delivery itself was sent");
});

test("a refused re-send is exit 1, recorded, and its retry uses the same key", async () => {
  const charge = await delivered({ billing_details: { email: "refused@example.com" } });
  shop.resend.addFault({ method: "POST", path: "/emails", times: 1, kind: "status", status: 500 });
  const r = await shop.run(["resend", charge]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /did not accept the re-send/);
  assert.equal((await shop.run(["resend", charge])).code, 0);
  assert.deepEqual(attempts(charge).map((a) => a.outcome), ["delivered", "resend_failed", "resent"]);
  assert.equal(shop.resend.sentTo("refused@example.com").at(-1)?.idempotencyKey, `paidup-${charge}-r1`);
});
