import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import Stripe from "stripe";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { waitFor, listeningOn } from "./helpers/wait";

const SECRET = "whsec_test_paidup_webhook_secret_000";
const signer = new Stripe("sk_test_signer_only");
let shop: Shop;
let server: ChildProcess;
let base: string;
let serverErr = "";

function startServe(): Promise<string> {
  server = spawn(process.execPath, [BIN, "serve", "--port", "0"], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
  server.stderr?.on("data", (d: Buffer) => (serverErr += d.toString()));
  return listeningOn(server, () => serverErr);
}

before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
  base = await startServe();
});
after(async () => {
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  await shop.close();
});

function event(type: string, object: Record<string, unknown>, id = `evt_${Math.random().toString(36).slice(2)}`): string {
  return JSON.stringify({ id, object: "event", type, api_version: "2025-01-01", created: Math.floor(Date.now() / 1000), data: { object }, livemode: false, pending_webhooks: 1 });
}

async function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${base}/webhooks/stripe`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
}

function signed(body: string, opts: { secret?: string; timestamp?: number } = {}): Record<string, string> {
  return { "stripe-signature": signer.webhooks.generateTestHeaderString({ payload: body, secret: opts.secret ?? SECRET, timestamp: opts.timestamp }) };
}

async function until(check: () => boolean): Promise<void> {
  await waitFor("the server to act", check, { every: 10, detail: () => serverErr });
}

/**
 * A signed event for a new charge, waited for until delivered. The server works its events one
 * at a time, in order: once this one is done, any job an earlier request had queued is done
 * too, so "nothing was sent" is known, not guessed after a fixed sleep.
 */
async function afterEarlierWork(): Promise<void> {
  const c = shop.stripe.addCharge(paidCharge());
  const body = event("charge.succeeded", { id: c.id, object: "charge" });
  assert.equal((await post(body, signed(body))).status, 200);
  await until(() => shop.row(c.id)?.state === "delivered");
}

const sendsFor = (id: string) => shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length;

test("a signed charge.succeeded event delivers the charge (serve runs no pass: only the event can)", async () => {
  const c = shop.stripe.addCharge(paidCharge());
  const body = event("charge.succeeded", { id: c.id, object: "charge" });
  const res = await post(body, signed(body));
  assert.equal(res.status, 200);
  await until(() => sendsFor(c.id) === 1);
  await until(() => shop.row(c.id)?.state === "delivered");
});

test("forged, unsigned and expired events are refused with 400 and send nothing", async () => {
  const c = shop.stripe.addCharge(paidCharge());
  const body = event("charge.succeeded", { id: c.id, object: "charge" });
  const forged = await post(body, signed(body, { secret: "whsec_not_the_right_one" }));
  const unsigned = await post(body, {});
  const expired = await post(body, signed(body, { timestamp: Math.floor(Date.now() / 1000) - 600 }));
  const tampered = await post(body.replace("charge.succeeded", "charge.refunded"), signed(body));
  assert.deepEqual([forged.status, unsigned.status, expired.status, tampered.status], [400, 400, 400, 400]);
  await afterEarlierWork();
  assert.equal(sendsFor(c.id), 0);
  assert.equal(shop.row(c.id), undefined);
  assert.ok(!serverErr.includes(SECRET), "the secret never reaches the logs");
});

test("a body over 1 MiB is refused with 413", async () => {
  const body = JSON.stringify({ id: "evt_big", pad: "x".repeat(1024 * 1024 + 10) });
  const res = await post(body, signed(body));
  assert.equal(res.status, 413);
});

test("other methods get 405 and other paths 404", async () => {
  assert.equal((await fetch(`${base}/webhooks/stripe`)).status, 405);
  assert.equal((await fetch(`${base}/webhooks/stripe`, { method: "PUT", body: "x" })).status, 405);
  assert.equal((await fetch(`${base}/healthz`, { method: "POST", body: "{not json", headers: { "content-type": "application/json" } })).status, 405);
  assert.equal((await fetch(`${base}/healthz`, { method: "DELETE" })).headers.get("allow"), "GET, HEAD");
  assert.ok([200, 503].includes((await fetch(`${base}/healthz`, { method: "HEAD" })).status));
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/nope`, { method: "POST", body: "x", headers: { "content-type": "application/x-odd" } })).status, 404);
  assert.equal((await fetch(`${base}/webhooks/stripe/extra`, { method: "POST", body: "{}" })).status, 404);
});

test("a signed event sent without a content type, or with an odd one, is still verified and taken", async () => {
  const c = shop.stripe.addCharge(paidCharge());
  const body = event("charge.succeeded", { id: c.id, object: "charge" });
  const res = await fetch(`${base}/webhooks/stripe`, { method: "POST", body: Buffer.from(body), headers: { "content-type": "text/plain; charset=latin1", ...signed(body) } });
  assert.equal(res.status, 200);
  await until(() => shop.row(c.id)?.state === "delivered");
});

test("ten concurrent copies of one event send once", async () => {
  const c = shop.stripe.addCharge(paidCharge());
  const body = event("charge.succeeded", { id: c.id, object: "charge" }, "evt_same_ten_times");
  const answers = await Promise.all(Array.from({ length: 10 }, () => post(body, signed(body))));
  assert.ok(answers.every((a) => a.status === 200));
  const bodies = (await Promise.all(answers.map((a) => a.json()))) as { duplicate: boolean }[];
  assert.equal(bodies.filter((b) => !b.duplicate).length, 1, "the event was recorded once");
  await until(() => shop.row(c.id)?.state === "delivered");
  await afterEarlierWork();
  assert.equal(sendsFor(c.id), 1);
});

test("an event whose charge was refunded in the meantime sends nothing", async () => {
  const c = shop.stripe.addCharge(paidCharge());
  shop.stripe.updateCharge(c.id, { refunded: true, amount_refunded: c.amount });
  const body = event("charge.succeeded", { id: c.id, object: "charge", refunded: false });
  assert.equal((await post(body, signed(body))).status, 200);
  await until(() => shop.row(c.id)?.state === "skipped");
  assert.equal(sendsFor(c.id), 0);
});

test("checkout.session.completed delivers the session's charge", async () => {
  const c = shop.stripe.addCharge({ amount: 2500, payment_intent: "pi_hook_1", billing_details: { email: "hook@example.com" } });
  shop.stripe.addPaymentIntent({ id: "pi_hook_1", latest_charge: c.id });
  shop.stripe.addCheckoutSession({ payment_intent: "pi_hook_1", customer_details: { email: "hook@example.com", name: "Hook" }, line_items: [{ price: { id: "price_starter", product: "prod_starter" } }] });
  const body = event("checkout.session.completed", { id: "cs_hook_1", object: "checkout.session", payment_intent: "pi_hook_1" });
  assert.equal((await post(body, signed(body))).status, 200);
  // The send lands at Resend a moment before the ledger commit: wait for the commit.
  await until(() => shop.row(c.id)?.state === "delivered");
  assert.equal(sendsFor(c.id), 1);
});

test("the next poll does not send again what the webhook delivered", async () => {
  const deliveredByHook = shop.rows().filter((r) => r.state === "delivered").map((r) => r.id);
  assert.ok(deliveredByHook.length >= 3);
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).alreadyDelivered, deliveredByHook.length);
  for (const id of deliveredByHook) assert.equal(sendsFor(id), 1, `${id} was emailed once`);
});

test("GET /healthz reports the last pass", async () => {
  assert.ok((await shop.run(["reconcile"])).code !== null);
  const res = await fetch(`${base}/healthz`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { ok: boolean; lastPass: { ok: boolean; stale: boolean } };
  assert.equal(body.lastPass.ok, true);
  assert.equal(body.lastPass.stale, false);
});

test("without RESEND_WEBHOOK_SECRET, POST /webhooks/resend answers 404", async () => {
  assert.equal((await fetch(`${base}/webhooks/resend`, { method: "POST", body: "{}" })).status, 404);
});

test("serve refuses to start without STRIPE_WEBHOOK_SECRET", async () => {
  const r = await shop.run(["serve", "--port", "0"], { env: { STRIPE_WEBHOOK_SECRET: undefined } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /STRIPE_WEBHOOK_SECRET is not set/);
});
