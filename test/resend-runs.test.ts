import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { COURSE_PRODUCT, courseConfig, writeCourseFiles } from "./helpers/downloads-shop";
import { DEFAULT_PRODUCTS, Shop } from "./helpers/shop";

// `paidup resend` runs (CONTRACT.md, the `resend` row): a run that failed, or whose outcome is
// unknown, for any product is completed by running `resend` again, with the payloads stored for
// that run (same key `paidup-<charge>-r<n>`, byte-identical payload, per product), before the
// next run starts; `n` counts up only with runs that completed. Through the real CLI.

process.env.NODE_ENV = "production";

/** The course sold by price, so one checkout buys it with the starter pack: two products, two emails. */
const COURSE_BY_PRICE = { ...COURSE_PRODUCT, match: { price: "price_course" } };

let shop: Shop;
/** How far the fake Resend's clock runs ahead of ours: it forgets idempotency keys after 24 h on it. */
let resendAhead = 0;
before(async () => {
  shop = await Shop.start({ resendNow: () => Date.now() + resendAhead, config: courseConfig("https://shop.example.com", { products: [...DEFAULT_PRODUCTS, COURSE_BY_PRICE] }) });
  writeCourseFiles(shop.dir);
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

let n = 0;
/** A delivered charge buying the starter pack and the course: two emails to `email`. */
async function twoProducts(email: string): Promise<{ charge: string; keys: string[] }> {
  const pi = `pi_runs_${++n}`;
  const c = shop.stripe.addCharge({ amount: 9900, currency: "usd", payment_intent: pi, created: Math.floor(Date.now() / 1000) - 5, billing_details: { email, name: "Runs" } });
  shop.stripe.addCheckoutSession({ payment_intent: pi, line_items: [{ price: { id: "price_starter", product: "prod_starter" } }, { price: { id: "price_course", product: "prod_course" } }] });
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(shop.resend.sentTo(email).length, 2);
  return { charge: c.id, keys: shop.resend.sentTo(email).map((m) => m.idempotencyKey as string) };
}

/** Real emails (not replays) per idempotency key, for this buyer. */
function emailsByKey(email: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of shop.resend.sentTo(email)) out[m.idempotencyKey as string] = (out[m.idempotencyKey as string] ?? 0) + 1;
  return out;
}

test("a run whose second answer was lost is completed by the next resend: 4 emails, not 6, and the next run is r2", async () => {
  const email = "lost-answer@example.com";
  const { charge } = await twoProducts(email);
  const second = `paidup-${charge}-r1-course`;
  // Resend accepts the course's email of r1 (it goes to the buyer), then the answer is lost.
  shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: second, kind: "reset-after-processing" });
  const lost = await shop.run(["resend", charge]);
  assert.equal(lost.code, 1, lost.stderr);
  assert.match(lost.stderr, /run `paidup resend [^`]+` again/);
  assert.equal(shop.resend.sentTo(email).length, 4, "both emails of r1 went");

  // The template is edited meanwhile: a run is completed with the bytes stored for it, not a new
  // rendering (Resend would refuse a different payload under the same key, 409).
  const template = path.join(shop.dir, "templates", "course.txt");
  const original = fs.readFileSync(template, "utf8");
  fs.writeFileSync(template, `Edited since. ${original}`);
  const again = await shop.run(["resend", charge]);
  fs.writeFileSync(template, original);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /course re-sent to lost-answer@example.com \(r1, email id /);
  assert.doesNotMatch(again.stdout, /\(r2/);
  assert.equal(shop.resend.sentTo(email).length, 4, "the buyer got each product once for r1");
  assert.deepEqual(emailsByKey(email), { [`paidup-${charge}`]: 1, [`paidup-${charge}-course`]: 1, [`paidup-${charge}-r1`]: 1, [second]: 1 });

  // r1 is complete: the next run is r2, both products again.
  const next = await shop.run(["resend", charge]);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /\(r2, email id /);
  assert.equal(shop.resend.sentTo(email).length, 6);
  assert.equal(emailsByKey(email)[`paidup-${charge}-r2-course`], 1);
});

test("a run refused for one product re-sends only that product, under the same key, on the next resend", async () => {
  const email = "refused-second@example.com";
  const { charge } = await twoProducts(email);
  const second = `paidup-${charge}-r1-course`;
  shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: second, kind: "status", status: 500,
    body: { statusCode: 500, name: "internal_server_error", message: "boom" } });
  const refused = await shop.run(["resend", charge]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(shop.resend.sentTo(email).length, 3, "the starter pack of r1 went, the course did not");
  const again = await shop.run(["resend", charge]);
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /starter/, "the product Resend accepted is not sent again");
  assert.deepEqual(emailsByKey(email), { [`paidup-${charge}`]: 1, [`paidup-${charge}-course`]: 1, [`paidup-${charge}-r1`]: 1, [second]: 1 });
});

test("resend --to to another address while a run is incomplete is exit 2 and sends nothing", async () => {
  const email = "pending-to@example.com";
  const { charge } = await twoProducts(email);
  shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: `paidup-${charge}-r1-course`, kind: "reset-after-processing" });
  assert.equal((await shop.run(["resend", charge])).code, 1);
  const before = shop.resend.sent.length;
  const other = await shop.run(["resend", charge, "--to", "other@example.com"]);
  assert.equal(other.code, 2, other.stderr);
  assert.match(other.stderr, /r1 .*pending-to@example\.com.* not complete/);
  assert.equal(other.stderr.trim().split("\n").length <= 2, true, "one line and its hint");
  assert.equal(shop.resend.sent.length, before, "nothing sent");
  assert.equal(shop.row(charge)?.email, email, "the address is unchanged");
  // The same address is fine: it completes r1.
  assert.equal((await shop.run(["resend", charge, "--to", email])).code, 0);
  assert.equal(shop.resend.sentTo(email).length, 4);
});

test("an unfinished run older than Resend's 24 h window is not repeated: that product is counted unknown (exit 1), then the next resend starts r2", async () => {
  const email = "window-passed@example.com";
  const { charge } = await twoProducts(email);
  const second = `paidup-${charge}-r1-course`;
  shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: second, kind: "reset-after-processing" });
  assert.equal((await shop.run(["resend", charge])).code, 1);
  assert.equal(emailsByKey(email)[second], 1, "the course of r1 went; its answer was lost");

  // A day later: Resend no longer knows the key, so a repeat under it would be a second email.
  shop.exec(`UPDATE resend_runs SET created_at = created_at - ${24 * 3_600_000}, updated_at = updated_at - ${24 * 3_600_000} WHERE charge_id = '${charge}'`);
  resendAhead = 24 * 3_600_000 + 60_000;
  try {
    const late = await shop.run(["resend", charge]);
    assert.equal(late.code, 1, late.stderr);
    assert.match(late.stderr, /course.*r1.*outcome (of the send )?unknown/);
    assert.match(late.stderr, /not sent again/);
    assert.equal(emailsByKey(email)[second], 1, "not sent a second time under a key Resend forgot");
    assert.equal(late.stdout, "", "nothing was sent");

    // The owner has been told; asking again is a new run, every product afresh.
    const next = await shop.run(["resend", charge]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stdout, /starter re-sent to window-passed@example\.com \(r2, /);
    assert.match(next.stdout, /course re-sent to window-passed@example\.com \(r2, /);
    assert.equal(emailsByKey(email)[second], 1);
  } finally {
    resendAhead = 0;
  }
});
