import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { LEASE_MS } from "../src/ledger";
import { DEFAULT_PRODUCTS, paidCharge, RESEND_KEY, Shop } from "./helpers/shop";
import { inProcess, InProcessOptions } from "./helpers/in-process";

// Resend fails in every way it can; each failure must end in a state with a reason, and no
// charge may get a second email. Passes run in-process on a ManualClock ("later" is free).

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const COURSE = {
  key: "course", match: { metadata: { product: "course" } }, subject: "Your course",
  text: "templates/ship-fast.txt", attachments: ["products/course.zip"],
};

let shop: Shop;
before(async () => {
  shop = await Shop.start({
    config: { retry: { maxAttempts: 4, delays: ["1m", "5m", "30m"] }, products: [...DEFAULT_PRODUCTS, COURSE] },
  });
});
after(async () => shop.close());
beforeEach(() => {
  shop.resend.clearFaults();
  shop.stripe.clearFaults();
});

// Each test's charges get their own second, and each in-process ledger starts at its charge,
// so a test never sees (or takes the faults meant for) another test's charges.
const base = Math.floor(Date.now() / 1000) - 1000;
let seq = 0;
function addCharge(extra: Record<string, unknown> = {}) {
  seq++;
  return shop.stripe.addCharge(paidCharge({ id: `ch_send_${seq}`, created: base + seq * 10, billing_details: { email: `s${seq}@example.com`, name: "S" }, ...extra }));
}
async function setup(extra: Record<string, unknown> = {}, opts: InProcessOptions = {}) {
  const c = addCharge(extra);
  return { c, p: await inProcess(shop, { startLine: c.created, ...opts }) };
}
const emailsFor = (id: string) => shop.resend.sendsByKey().get(`paidup-${id}`) ?? 0;
const requestsFor = (id: string) => shop.resend.requests.filter((r) => r.idempotencyKey === `paidup-${id}`).length;

for (const [label, fault, reason] of [
  ["a Resend 500", { kind: "status", status: 500 }, /Resend server error/],
  ["a dropped connection", { kind: "reset" }, /network error or timeout/],
  ["a Resend that never answers (2 s timeout)", { kind: "hang" }, /network error or timeout/],
] as const) {
  test(`${label} leaves the charge retrying with its next attempt a minute later, then it is delivered once`, async () => {
    // A short timeout only where Resend hangs: the same timeout on the sends that must succeed
    // would turn a request slowed by a busy machine into an outcome unknown.
    const { p, c } = await setup({}, { resendTimeoutMs: fault.kind === "hang" ? 2000 : undefined });
    try {
      shop.resend.addFault({ method: "POST", path: "/emails", ...fault });
      const t0 = p.clock.now();
      const first = await p.pass();
      assert.equal(first.counts.retrying, 1);
      const row = (await p.row(c.id));
      assert.equal(row?.state, "retrying");
      assert.match(row?.reason ?? "", reason);
      assert.ok(row?.next_attempt_at && row.next_attempt_at >= t0 + 60_000 && row.next_attempt_at < t0 + 61_000, "next attempt 1m later");
      assert.equal(emailsFor(c.id), 0);

      p.clock.advance(30_000);
      await p.pass();
      assert.equal((await p.row(c.id))?.state, "retrying", "not retried before its time");
      assert.equal(requestsFor(c.id), 1);

      p.clock.advance(31_000);
      const later = await p.pass();
      assert.equal(later.counts.delivered, 1);
      assert.equal((await p.row(c.id))?.state, "delivered");
      assert.equal(emailsFor(c.id), 1);
    } finally {
      await p.close();
    }
  });
}

test("a 422 for a bad address goes to needs_review at once with Resend's reason, and is not retried", async () => {
  const { p, c } = await setup({ billing_details: { email: "buyer@nowhere", name: "B" } });
  try {
    await p.pass();
    const row = (await p.row(c.id));
    assert.equal(row?.state, "needs_review");
    assert.match(row?.reason ?? "", /Resend refused the email: validation_error \(422\): Invalid `to` field/);
    p.clock.advance(24 * 3_600_000);
    await p.pass();
    assert.equal(requestsFor(c.id), 1, "a refused email is never repeated on its own");
    assert.equal(emailsFor(c.id), 0);
  } finally {
    await p.close();
  }
});

test("failed sends are retried after 1m, 5m and 30m, then go to needs_review after retry.maxAttempts", async () => {
  const { p, c } = await setup();
  try {
    shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 503, times: Infinity });
    const gaps: number[] = [];
    await p.pass();
    for (const delay of [60_000, 300_000, 1_800_000]) {
      const row = (await p.row(c.id));
      assert.equal(row?.state, "retrying");
      gaps.push((row?.next_attempt_at ?? 0) - p.clock.now());
      p.clock.advance(delay - 1000);
      await p.pass();
      assert.equal((await p.row(c.id))?.failed_sends, row?.failed_sends, "not retried early");
      p.clock.advance(1000);
      await p.pass();
    }
    gaps.forEach((g, i) => assert.ok(Math.abs(g - [60_000, 300_000, 1_800_000][i]!) < 1000, `delay ${i + 1} was ${g} ms`));
    const row = (await p.row(c.id));
    assert.equal(row?.state, "needs_review");
    assert.match(row?.reason ?? "", /^gave up after 4 attempts; last error: Resend server error/);
    assert.equal(requestsFor(c.id), 4);
    assert.deepEqual((await p.ledger.attempts(c.id)).map((a) => a.outcome), ["unknown", "unknown", "unknown", "unknown"]);
    p.clock.advance(7 * 24 * 3_600_000);
    await p.pass();
    assert.equal(requestsFor(c.id), 4, "needs_review is never retried without an operator");
  } finally {
    await p.close();
  }
});

test("a missing product file makes the charge needs_review (exit 1, not 2); once staged, the next pass delivers it once", async () => {
  const c = addCharge({ metadata: { product: "course" } });
  const init = await shop.run(["init", "--since", new Date(c.created * 1000).toISOString()]);
  assert.equal(init.code, 0, init.stderr);
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const row = shop.row(c.id);
  assert.equal(row?.state, "needs_review");
  assert.match(row?.reason ?? "", /^product file .*course\.zip is missing$/);
  assert.equal(requestsFor(c.id), 0);

  fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(1024, 3));
  const again = await shop.run(["reconcile", "--json"]);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  assert.equal(shop.row(c.id)?.state, "delivered");
  const third = await shop.run(["reconcile", "--json"]);
  assert.equal(third.code, 0);
  assert.equal(emailsFor(c.id), 1);
  assert.equal(requestsFor(c.id), 1);
});

test("an answer lost after Resend sent the email leaves it retrying (outcome unknown); the repeat is recognised and no second email goes", async () => {
  const { p, c } = await setup();
  try {
    shop.resend.addFault({ method: "POST", path: "/emails", kind: "reset-after-processing" });
    await p.pass();
    const row = (await p.row(c.id));
    assert.equal(row?.state, "retrying");
    assert.equal(row?.outcome_unknown, 1);
    assert.equal(emailsFor(c.id), 1, "the email did go out");
    const firstBody = shop.resend.sent.find((s) => s.idempotencyKey === `paidup-${c.id}`)?.payload;

    p.clock.advance(60_000);
    await p.pass();
    assert.equal((await p.row(c.id))?.state, "delivered");
    assert.equal((await p.row(c.id))?.email_id, shop.resend.sent.find((s) => s.idempotencyKey === `paidup-${c.id}`)?.id, "the original email's id");
    assert.equal(requestsFor(c.id), 2, "sent again with the same key");
    assert.equal(emailsFor(c.id), 1, "Resend replayed its answer: one email");
    assert.ok(firstBody);
  } finally {
    await p.close();
  }
});

test("a send claimed more than 24 h ago whose process died goes to needs_review: outcome of send unknown", async () => {
  const { p, c } = await setup();
  try {
    // A process claimed it and died before recording anything.
    await p.ledger.claim({ id: c.id, created: c.created, amount: c.amount, currency: c.currency, email: "x@example.com" }, [{ product: "ship-fast", payload: JSON.stringify({ to: "x@example.com" }) }], "dead:1", p.clock.now());
    p.clock.advance(LEASE_MS - 1000);
    await p.pass();
    assert.equal((await p.row(c.id))?.state, "sending", "a live lease is left alone");
    p.clock.advance(25 * 3_600_000);
    const r = await p.pass();
    const row = (await p.row(c.id));
    assert.equal(row?.state, "needs_review");
    assert.match(row?.reason ?? "", /^outcome of send unknown/);
    assert.equal(r.counts.needsReview, 1);
    assert.equal(requestsFor(c.id), 0, "nothing is sent once Resend has forgotten the key");
  } finally {
    await p.close();
  }
});

test("a 409 invalid_idempotent_request is never read as not sent: needs_review, outcome unknown", async () => {
  const { p, c } = await setup();
  try {
    // Resend already holds a different payload under this charge's key.
    const res = await fetch(`${shop.resend.url}/emails`, {
      method: "POST",
      headers: { authorization: `Bearer ${RESEND_KEY}`, "content-type": "application/json", "idempotency-key": `paidup-${c.id}` },
      body: JSON.stringify({ from: "shop@example.com", to: "other@example.com", subject: "earlier", text: "earlier" }),
    });
    assert.equal(res.status, 200);
    await p.pass();
    const row = (await p.row(c.id));
    assert.equal(row?.state, "needs_review");
    assert.match(row?.reason ?? "", /^outcome of send unknown/);
    assert.equal(row?.outcome_unknown, 1);
    p.clock.advance(3_600_000);
    await p.pass();
    assert.equal(requestsFor(c.id), 2, "one pre-existing send and one refused repeat; no retries");
    assert.equal(emailsFor(c.id), 1);
  } finally {
    await p.close();
  }
});

test("a 429 with retry-after is waited out inside the pass and the charge is delivered once", async () => {
  const { p, c } = await setup();
  try {
    shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 429, headers: { "retry-after": "7" } });
    const t0 = p.clock.now();
    const r = await p.pass();
    assert.equal(r.counts.delivered, 1);
    assert.ok(p.clock.now() - t0 >= 7000, `the pass waited ${p.clock.now() - t0} ms of clock time`);
    assert.equal(emailsFor(c.id), 1);
    assert.equal(requestsFor(c.id), 2);
  } finally {
    await p.close();
  }
});
