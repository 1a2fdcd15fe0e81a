import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { DEFAULT_PRODUCTS, Shop } from "./helpers/shop";
import { inProcess } from "./helpers/in-process";
import { PATIENCE_MS } from "./helpers/wait";

// A purchase whose line items match several catalog products gets every one of them, each
// exactly once: one email per product, each with its own claim, key, retries and crash recovery.

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const COURSE = {
  key: "course", name: "Course", match: { price: "price_course" }, subject: "Your course",
  text: "templates/ship-fast.txt", attachments: ["products/course.zip"],
};

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { retry: { maxAttempts: 8, delays: ["1m"] }, products: [...DEFAULT_PRODUCTS, COURSE] } });
  fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(4096, 9));
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());
beforeEach(() => shop.resend.clearFaults());

const now = () => Math.floor(Date.now() / 1000);
let seq = 0;

/** A paid charge whose Checkout Session bought the Starter Pack and the course (and a price no product sells). */
function cartCharge(extra: Record<string, unknown> = {}) {
  seq++;
  const pi = `pi_cart_${seq}`;
  const c = shop.stripe.addCharge({
    id: `ch_cart_${seq}`, amount: 9900, currency: "usd", payment_intent: pi, created: now() - 30,
    // Line items decide when the purchase has them: this metadata would otherwise match ship-fast.
    metadata: { product: "ship-fast" },
    billing_details: { email: `cart${seq}@example.com`, name: "Cat Cart" },
    ...extra,
  });
  shop.stripe.addCheckoutSession({
    payment_intent: pi,
    line_items: [
      { price: { id: "price_course", product: "prod_course" } },
      { price: { id: "price_mug", product: "prod_mug" } },
      { price: { id: "price_starter", product: "prod_starter" } },
    ],
  });
  return c;
}
/** Polls a condition of the fakes (no fixed sleeps); fails the test instead of hanging. */
async function waitFor(what: string, cond: () => boolean, ms = PATIENCE_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const emails = (key: string) => shop.resend.sendsByKey().get(key) ?? 0;
const requests = (key: string) => shop.resend.requests.filter((r) => r.idempotencyKey === key).length;
const deliveries = (id: string) =>
  shop.query<{ product: string; position: number; send_key: string; state: string; email_id: string | null }>(
    `SELECT product, position, send_key, state, email_id FROM deliveries WHERE charge_id = '${id}' ORDER BY position`);

test("a Checkout Session that bought two catalog products delivers each once: one email per product, the first in file order keeping paidup-<charge>", async () => {
  const c = cartCharge();
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(JSON.parse(r.stdout).delivered, 1, "one charge delivered");
  assert.equal(emails(`paidup-${c.id}`), 1, "starter: first in file order, the charge's own key");
  assert.equal(emails(`paidup-${c.id}-course`), 1, "course: its own key");
  assert.equal(shop.resend.sent.filter((s) => s.idempotencyKey?.startsWith(`paidup-${c.id}`)).length, 2, "no ship-fast: line items decide");
  const subjects = shop.resend.sentTo(`cart${seq}@example.com`).map((s) => s.subject).sort();
  assert.deepEqual(subjects, ["Your Starter Pack", "Your course"]);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(shop.row(c.id)?.product, "starter,course");

  const again = await shop.run(["reconcile"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(requests(`paidup-${c.id}`) + requests(`paidup-${c.id}-course`), 2, "nothing sent again");

  const show = await shop.run(["show", c.id, "--json"]);
  assert.equal(show.code, 0, show.stderr);
  const entry = JSON.parse(show.stdout);
  assert.equal(entry.product, "starter,course");
  assert.equal(entry.state, "delivered");
  const starterId = shop.resend.sent.find((s) => s.idempotencyKey === `paidup-${c.id}`)?.id;
  const courseId = shop.resend.sent.find((s) => s.idempotencyKey === `paidup-${c.id}-course`)?.id;
  assert.deepEqual(entry.products, [
    { key: "starter", state: "delivered", emailId: starterId },
    { key: "course", state: "delivered", emailId: courseId },
  ]);
  const human = await shop.run(["show", c.id]);
  assert.match(human.stdout, new RegExp(`course  delivered, email id ${courseId}`));
});

test("one product's send fails: the charge is retrying, only that product is retried later, and the other is never sent again", async () => {
  // Its own second, long before the others: the in-process pass's window holds this charge alone.
  const c = cartCharge({ created: now() - 3000 });
  const p = await inProcess(shop, { startLine: c.created, nowMs: (c.created + 5) * 1000 });
  try {
    shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: `paidup-${c.id}-course`, kind: "status", status: 500 });
    const first = await p.pass();
    assert.equal(first.counts.retrying, 1);
    const row = await p.row(c.id);
    assert.equal(row?.state, "retrying", "the charge takes the state of its product furthest from done");
    assert.match(row?.reason ?? "", /^course: Resend server error/);
    assert.equal(emails(`paidup-${c.id}`), 1);
    assert.equal(emails(`paidup-${c.id}-course`), 0);

    p.clock.advance(30_000);
    await p.pass();
    assert.equal(requests(`paidup-${c.id}-course`), 1, "not retried before its time");

    p.clock.advance(31_000);
    const later = await p.pass();
    assert.equal(later.counts.delivered, 1);
    assert.equal((await p.row(c.id))?.state, "delivered");
    assert.equal(emails(`paidup-${c.id}-course`), 1);
    assert.equal(requests(`paidup-${c.id}`), 1, "the delivered product was never sent again");
  } finally {
    await p.close();
  }
});

test("one product refused for good while the other's send fails: the charge is in review, and the other product is still retried on its own", async () => {
  const c = cartCharge({ created: now() - 2000 });
  const p = await inProcess(shop, { startLine: c.created, nowMs: (c.created + 5) * 1000 });
  try {
    shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: `paidup-${c.id}`, kind: "status", status: 422 });
    shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: `paidup-${c.id}-course`, kind: "status", status: 500 });
    await p.pass();
    const row = await p.row(c.id);
    assert.equal(row?.state, "needs_review", "the product furthest from done sets the charge's state");
    assert.match(row?.reason ?? "", /^starter: Resend refused the email/);

    p.clock.advance(61_000);
    await p.pass();
    assert.equal(emails(`paidup-${c.id}-course`), 1, "the course was retried although the charge is in review");
    assert.equal(requests(`paidup-${c.id}`), 1, "the refused product waits for the operator");
    assert.deepEqual((await p.ledger.deliveries(c.id)).map((d) => [d.product, d.state]), [["starter", "needs_review"], ["course", "delivered"]]);
    assert.equal((await p.row(c.id))?.state, "needs_review");
  } finally {
    await p.close();
  }
});

test("a pass SIGKILLed while the second product's send is in flight: recovery sends only that product, with the same key and payload", async () => {
  const c = cartCharge();
  const courseKey = `paidup-${c.id}-course`;
  // Resend takes a while over the course email, and finishes it after the pass is dead.
  shop.resend.addFault({ method: "POST", path: "/emails", idempotencyKey: courseKey, kind: "delay", ms: 1500 });
  let pid = 0;
  const run = shop.run(["reconcile"], { onSpawn: (p) => (pid = p) });
  await waitFor("the course send to reach Resend", () => requests(courseKey) > 0);
  process.kill(pid, "SIGKILL");
  assert.equal((await run).signal, "SIGKILL");
  assert.equal(shop.row(c.id)?.state, "sending");
  assert.deepEqual(deliveries(c.id).map((d) => [d.product, d.state]), [["starter", "delivered"], ["course", "sending"]]);
  await waitFor("Resend to finish the course email", () => emails(courseKey) > 0);

  // What a later pass finds once the 5-minute lease has run out.
  shop.exec(`UPDATE deliveries SET lease_until = 0 WHERE charge_id = '${c.id}' AND state = 'sending'`);
  shop.exec(`UPDATE charges SET lease_until = 0 WHERE id = '${c.id}'`);
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(requests(`paidup-${c.id}`), 1, "the starter pack was not sent again");
  assert.equal(requests(courseKey), 2, "the course was sent again under its own key");
  assert.equal(emails(courseKey), 1, "Resend recognised the byte-identical repeat: one email");
  const course = deliveries(c.id).find((d) => d.product === "course");
  assert.equal(course?.email_id, shop.resend.sent.find((s) => s.idempotencyKey === courseKey)?.id);
});

test("two passes at once send each product of each charge once", async () => {
  const charges = Array.from({ length: 12 }, () => cartCharge());
  const [a, b] = await Promise.all([shop.run(["reconcile", "--json"]), shop.run(["reconcile", "--json"])]);
  assert.ok(a.code !== null && a.code <= 1 && b.code !== null && b.code <= 1, a.stderr + b.stderr);
  for (const c of charges) {
    assert.equal(emails(`paidup-${c.id}`), 1, c.id);
    assert.equal(emails(`paidup-${c.id}-course`), 1, c.id);
    assert.equal(shop.row(c.id)?.state, "delivered");
  }
});
