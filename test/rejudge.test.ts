import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { after, test } from "node:test";
import Stripe from "stripe";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS, listeningOn } from "./helpers/wait";

// Skips a charge can grow out of: a dispute the shop wins (`disputed` stays true on the charge;
// the dispute's status says how it ended), and a start line moved earlier by `init --since`.

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function freshShop(since = "1h"): Promise<Shop> {
  const shop = await Shop.start();
  shops.push(shop);
  const r = await shop.run(["init", "--since", since]);
  assert.equal(r.code, 0, r.stderr);
  return shop;
}

const HOUR = 3_600_000;
const sentFor = (shop: Shop, id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length;

test("a charge disputed before delivery stays skipped while the dispute is open, and is delivered once the shop wins it", async () => {
  const shop = await freshShop();
  const won = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, billing_details: { email: "won@example.com" } }));
  const closed = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, billing_details: { email: "warning@example.com" } }));
  const lost = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, billing_details: { email: "lost@example.com" } }));
  const disputes = [won, closed, lost].map((c) => shop.stripe.addDispute({ charge: c.id, status: "needs_response" }));
  assert.equal((await shop.run(["reconcile"])).code, 0);
  for (const c of [won, closed, lost]) assert.equal(shop.row(c.id)?.state, "skipped");
  assert.equal(shop.row(won.id)?.reason, "disputed before delivery");

  shop.stripe.updateDispute(disputes[0]?.id as string, { status: "won" });
  shop.stripe.updateDispute(disputes[1]?.id as string, { status: "warning_closed" });
  shop.stripe.updateDispute(disputes[2]?.id as string, { status: "lost" });
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(won.id)?.state, "delivered");
  assert.equal(shop.row(closed.id)?.state, "delivered");
  assert.equal(sentFor(shop, won.id), 1);
  assert.equal(sentFor(shop, closed.id), 1);
  assert.equal(shop.row(lost.id)?.state, "skipped");
  assert.equal(shop.row(lost.id)?.reason, "disputed before delivery; the dispute was lost");
  assert.equal(sentFor(shop, lost.id), 0);
});

test("a dispute won days after the charge is noticed by the hourly re-look, without webhooks", async () => {
  const shop = await freshShop("5d");
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 4 * 24 * 3600, billing_details: { email: "weeks@example.com" } }));
  const dispute = shop.stripe.addDispute({ charge: c.id, status: "under_review" });
  assert.equal((await shop.run(["reconcile"])).code, 0);
  assert.equal(shop.row(c.id)?.state, "skipped");
  shop.stripe.updateDispute(dispute.id as string, { status: "won" });
  assert.equal((await shop.run(["reconcile"])).code, 0);
  assert.equal(sentFor(shop, c.id), 0, "not looked at again before the hour is up");
  shop.stripe.clockOffsetMs = HOUR + 60_000;
  assert.equal((await shop.run(["reconcile"])).code, 0);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sentFor(shop, c.id), 1);
});

// ---- through `serve`: a webhook records a charge the passes never list ----

const SECRET = "whsec_test_paidup_rejudge_secret_00";
const signer = new Stripe("sk_test_signer_only");

async function withServe(shop: Shop, fn: (post: (type: string, object: Record<string, unknown>) => Promise<void>) => Promise<void>): Promise<void> {
  const server: ChildProcess = spawn(process.execPath, [BIN, "serve", "--port", "0"], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"] });
  try {
    const base = await listeningOn(server);
    await fn(async (type, object) => {
      const body = JSON.stringify({ id: `evt_${Math.random().toString(36).slice(2)}`, object: "event", type, api_version: "2025-01-01", created: Math.floor(Date.now() / 1000), data: { object }, livemode: false, pending_webhooks: 1 });
      const res = await fetch(`${base}/webhooks/stripe`, { method: "POST", body, headers: { "content-type": "application/json", "stripe-signature": signer.webhooks.generateTestHeaderString({ payload: body, secret: SECRET }) } });
      assert.equal(res.status, 200);
    });
  } finally {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met within the patience deadline");
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a charge skipped only for the start line is delivered after init --since moves the start line earlier", async () => {
  const shop = await freshShop("1h");
  const old = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 3 * 3600, billing_details: { email: "backlog@example.com" } }));
  // A webhook about it (say, a receipt update) makes the ledger record it: skipped, before the start line.
  await withServe(shop, async (post) => {
    await post("charge.succeeded", { id: old.id, object: "charge" });
    await until(() => shop.row(old.id) !== undefined);
  });
  assert.equal(shop.row(old.id)?.state, "skipped");
  assert.equal(shop.row(old.id)?.reason, "created before the start line");

  const init = await shop.run(["init", "--since", "1d"]);
  assert.equal(init.code, 0, init.stderr);
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(shop.row(old.id)?.state, "delivered");
  assert.equal(sentFor(shop, old.id), 1);
});

test("serve delivers a charge when its dispute closes in the shop's favour (charge.dispute.closed)", async () => {
  const shop = await freshShop();
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, billing_details: { email: "hook@example.com" } }));
  const dispute = shop.stripe.addDispute({ charge: c.id, status: "needs_response" });
  assert.equal((await shop.run(["reconcile"])).code, 0);
  assert.equal(shop.row(c.id)?.state, "skipped");
  shop.stripe.updateDispute(dispute.id as string, { status: "won" });
  await withServe(shop, async (post) => {
    await post("charge.dispute.closed", { ...dispute, status: "won" });
    await until(() => shop.row(c.id)?.state === "delivered");
  });
  assert.equal(sentFor(shop, c.id), 1);
});
