import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { inProcess } from "./helpers/in-process";
import { paidCharge, Shop } from "./helpers/shop";

// Stripe fails while a pass pages through it, and charges change after a pass has seen them.

process.env.NODE_ENV = "production";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
});
after(async () => shop.close());
beforeEach(() => {
  shop.stripe.clearFaults();
  shop.resend.clearFaults();
});

const sendsWith = (prefix: string) => [...shop.resend.sendsByKey().entries()].filter(([k]) => k.startsWith(`paidup-${prefix}`)).map(([, n]) => n);
function meta(key: string): string | undefined {
  return shop.query<{ value: string }>(`SELECT value FROM meta WHERE key = '${key}'`)[0]?.value;
}

test("a persistent Stripe failure on page 3 exits 3, keeps pages 1-2 delivered and the watermark still; the next pass delivers the rest once", async () => {
  const start = Math.floor(Date.now() / 1000) - 600;
  const id = (i: number) => `ch_page_${String(i).padStart(4, "0")}`;
  shop.stripe.bulkAddCharges(250, (i) => paidCharge({ id: id(i), created: start + i, billing_details: { email: `p${i}@example.com` } }));
  assert.equal((await shop.run(["init", "--since", new Date(start * 1000).toISOString()])).code, 0);
  const watermark = meta("watermark");
  // Newest first: page 1 is 249..150, page 2 is 149..50, page 3 starts after charge 50.
  shop.stripe.addFault({ method: "GET", path: new RegExp(`starting_after=${id(50)}`), kind: "status", status: 500, times: Infinity });
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /Stripe failed while trying to list charges \(HTTP 500\)/);
  assert.equal(shop.stripe.requestCount({ path: "/v1/charges" }), 2 + 3, "pages 1-2, then page 3 tried three times (the SDK's 2 retries)");
  const rows = shop.rows().filter((x) => x.id.startsWith("ch_page_"));
  assert.equal(rows.length, 200);
  assert.ok(rows.every((x) => x.state === "delivered" && Number(x.id.slice(-4)) >= 50));
  assert.equal(meta("watermark"), watermark, "the watermark did not move past an unwalked page");

  shop.stripe.clearFaults();
  const next = await shop.run(["reconcile", "--json"]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(JSON.parse(next.stdout).delivered, 50);
  const sends = sendsWith("ch_page_");
  assert.equal(sends.length, 250);
  assert.ok(sends.every((n) => n === 1), "each charge emailed once");
  assert.ok(Number(meta("watermark")) > Number(watermark));
});

test("Stripe 500s and dropped connections while paging are retried by the SDK and the pass completes", async () => {
  // Created within the last minute: the pass re-lists only a short overlap before its watermark.
  const start = Math.floor(Date.now() / 1000) - 60;
  shop.stripe.bulkAddCharges(150, (i) => paidCharge({ id: `ch_blip_${String(i).padStart(4, "0")}`, created: start + Math.floor(i / 3), billing_details: { email: `q${i}@example.com` } }));
  shop.stripe.addFault({ method: "GET", path: "/v1/charges", kind: "status", status: 500 });
  shop.stripe.addFault({ method: "GET", path: /starting_after=/, kind: "reset" });
  shop.stripe.addFault({ method: "GET", path: /starting_after=/, kind: "status", status: 502 });
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const sends = sendsWith("ch_blip_");
  assert.equal(sends.length, 150);
  assert.ok(sends.every((n) => n === 1));
});

test("a Stripe 429 with Retry-After is retried by paidup after the wait it asks for", async () => {
  const p = await inProcess(shop);
  try {
    const c = shop.stripe.addCharge(paidCharge({ id: "ch_429", created: Math.floor(Date.now() / 1000) - 5, billing_details: { email: "r429@example.com" } }));
    shop.stripe.addFault({ method: "GET", path: "/v1/charges", kind: "status", status: 429, headers: { "retry-after": "3" }, times: 2 });
    const t0 = p.clock.now();
    const r = await p.pass();
    assert.ok(p.clock.now() - t0 >= 6000, `waited ${p.clock.now() - t0} ms of clock time for two 429s`);
    assert.equal((await p.row(c.id))?.state, "delivered");
    assert.equal(r.complete, true);
  } finally {
    await p.close();
  }
});

test("charges refunded or disputed after a failed send are skipped, not sent; pending becomes delivered when it succeeds; failed is skipped", async () => {
  // Ten minutes ahead of the other tests' charges, with the pass's clock there too, so the
  // Resend faults below meet only these charges.
  const base = Math.floor(Date.now() / 1000) + 600;
  const mk = (id: string, extra: Record<string, unknown> = {}) =>
    shop.stripe.addCharge(paidCharge({ id, created: base, billing_details: { email: `${id}@example.com` }, ...extra }));
  const refunded = mk("ch_chg_refund");
  const disputed = mk("ch_chg_dispute");
  const pending = mk("ch_chg_pending", { status: "pending", paid: false, captured: false });
  const pendingFails = mk("ch_chg_pendfail", { status: "pending", paid: false, captured: false });
  const failed = mk("ch_chg_failed", { status: "failed", paid: false, captured: false });
  const p = await inProcess(shop, { startLine: base, nowMs: (base + 10) * 1000 });
  try {
    // The two paid ones fail to send first (list order: newest first, ties by id descending).
    shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: 2 });
    await p.pass();
    assert.equal((await p.row(refunded.id))?.state, "retrying");
    assert.equal((await p.row(disputed.id))?.state, "retrying");
    assert.equal((await p.row(pending.id))?.state, "awaiting_payment");
    assert.equal((await p.row(failed.id))?.state, "skipped");

    shop.stripe.updateCharge(refunded.id, { refunded: true, amount_refunded: 4900 });
    shop.stripe.updateCharge(disputed.id, { disputed: true });
    shop.stripe.updateCharge(pending.id, { status: "succeeded" });
    shop.stripe.updateCharge(pendingFails.id, { status: "failed" });
    p.clock.advance(4 * 24 * 3_600_000); // a bank debit settles days later
    await p.pass();
    assert.equal((await p.row(refunded.id))?.state, "skipped");
    assert.equal((await p.row(refunded.id))?.reason, "refunded before delivery");
    assert.equal((await p.row(disputed.id))?.state, "skipped");
    assert.equal((await p.row(disputed.id))?.reason, "disputed before delivery");
    assert.equal((await p.row(pending.id))?.state, "delivered");
    assert.equal((await p.row(pendingFails.id))?.state, "skipped");
    assert.equal((await p.row(failed.id))?.state, "skipped");
    const sends = shop.resend.sendsByKey();
    for (const c of [refunded, disputed, pendingFails, failed]) assert.equal(sends.get(`paidup-${c.id}`) ?? 0, 0, `${c.id} was never emailed`);
    assert.equal(sends.get(`paidup-${pending.id}`), 1);
  } finally {
    await p.close();
  }
});
