import assert from "node:assert/strict";
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { BIN, DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS, listeningOn } from "./helpers/wait";
import { resendEvent, svixHeaders } from "./helpers/svix";

// POST /webhooks/resend on the real `serve`: Svix-signed events (valid, forged, replayed,
// stale), each type, bounces to `bounced` with one alert naming the fix, and `resend --to`.

const STRIPE_SECRET = "whsec_test_stripe_for_resend_hooks_00";
const RESEND_SECRET = `whsec_${Buffer.from("resend-webhook-signing-key-for-tests").toString("base64")}`;
const OWNER = "owner@example.com";
let shop: Shop;
let child: ChildProcessWithoutNullStreams;
let base: string;
let stderr = "";

before(async () => {
  shop = await Shop.start();
  shop.writeConfig({ from: "Shop <shop@example.com>", alertTo: OWNER, resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  child = spawn(process.execPath, [BIN, "serve", "--port", "0"], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, RESEND_WEBHOOK_SECRET: RESEND_SECRET }, stdio: ["pipe", "pipe", "pipe"] });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  base = await listeningOn(child, () => stderr);
});
after(async () => {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await shop.close();
});

async function until(check: () => boolean, ms = PATIENCE_MS): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms: ${stderr.slice(-1500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A charge delivered by a real pass; returns its id and the email id Resend gave it. */
async function delivered(email: string): Promise<{ id: string; emailId: string }> {
  const c = shop.stripe.addCharge(paidCharge({ billing_details: { email, name: "Ada" } }));
  await shop.run(["reconcile"]);
  const row = shop.row(c.id);
  assert.equal(row?.state, "delivered");
  return { id: c.id, emailId: row?.email_id as string };
}

function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${base}/webhooks/resend`, { method: "POST", body, headers });
}

const alertsTo = () => shop.resend.sent.filter((s) => s.to.includes(OWNER));

test("email.bounced on a delivery makes the charge bounced with Resend's reason, and the owner gets one alert naming resend --to", async () => {
  const { id, emailId } = await delivered("typo@exmaple.com");
  const alertsBefore = alertsTo().length;
  const body = resendEvent("email.bounced", emailId, { bounce: { type: "Permanent", subType: "General", message: "The recipient's mailbox does not exist" } });
  const headers = svixHeaders(body, RESEND_SECRET, { id: "msg_bounce_1" });
  const res = await post(body, headers);
  assert.equal(res.status, 200);
  assert.equal(shop.row(id)?.state, "bounced", "bounced before the answer");
  assert.match(shop.row(id)?.reason ?? "", /email\.bounced: Permanent, General, The recipient's mailbox does not exist/);
  await until(() => alertsTo().length === alertsBefore + 1);
  const alert = alertsTo().at(-1);
  assert.match(alert?.text ?? "", new RegExp(`paidup resend ${id} --to <address>`));

  // Resend retries a webhook: the same svix-id is a duplicate and alerts nobody again.
  const again = await post(body, headers);
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as { duplicate: boolean }).duplicate, true);

  const status = await shop.run(["status", "--offline", "--json"]);
  assert.equal(status.code, 1);
  const stuck = (JSON.parse(status.stdout) as { stuck: { charge: string; state: string; reason: string }[] }).stuck.find((s) => s.charge === id);
  assert.equal(stuck?.state, "bounced");
  const human = await shop.run(["status", "--offline"]);
  assert.match(human.stdout, new RegExp(`${id} bounced \\(Resend reported email\\.bounced.*\\): check the address with the buyer, then paidup resend ${id} --to <address>`));

  const shown = JSON.parse((await shop.run(["show", id, "--json"])).stdout) as { emailEvents: { type: string; emailId: string }[] };
  assert.deepEqual(shown.emailEvents.map((e) => [e.type, e.emailId]), [["email.bounced", emailId]]);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(alertsTo().length, alertsBefore + 1, "one alert for the bounce");

  // A pass leaves a bounced charge alone (no second send on its own), and exits 1.
  const pass = await shop.run(["reconcile"]);
  assert.equal(pass.code, 1);
  assert.equal(shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length, 1);

  // The fix: resend --to delivers to the corrected address once; the charge leaves bounced.
  const fixed = await shop.run(["resend", id, "--to", "fixed@example.com"]);
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal(shop.row(id)?.state, "delivered");
  assert.equal(shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}-r1` && s.to.includes("fixed@example.com")).length, 1);
  // A late copy of the first bounce (another svix-id) does not bounce it again.
  const late = resendEvent("email.bounced", emailId, { bounce: { message: "late" } });
  assert.equal((await post(late, svixHeaders(late, RESEND_SECRET))).status, 200);
  assert.equal(shop.row(id)?.state, "delivered");
});

test("email.failed and email.suppressed bounce a charge too", async () => {
  for (const type of ["email.failed", "email.suppressed"]) {
    const { id, emailId } = await delivered(`${type.slice(6)}@example.com`);
    const body = resendEvent(type, emailId, type === "email.failed" ? { failed: { reason: "reached the daily sending quota" } } : {});
    assert.equal((await post(body, svixHeaders(body, RESEND_SECRET))).status, 200);
    assert.equal(shop.row(id)?.state, "bounced", type);
    assert.match(shop.row(id)?.reason ?? "", new RegExp(type.replace(".", "\\.")));
    await shop.run(["resolve", id, "--note", "sent by hand"]);
  }
});

test("email.delivered, email.delivery_delayed and email.complained are recorded and shown; the charge stays delivered", async () => {
  const { id, emailId } = await delivered("happy@example.com");
  for (const type of ["email.delivery_delayed", "email.delivered", "email.complained"]) {
    const body = resendEvent(type, emailId);
    assert.equal((await post(body, svixHeaders(body, RESEND_SECRET))).status, 200);
  }
  assert.equal(shop.row(id)?.state, "delivered");
  const shown = await shop.run(["show", id]);
  assert.match(shown.stdout, /email\.delivery_delayed[\s\S]*email\.delivered[\s\S]*email\.complained/);
  const evidence = await shop.run(["evidence", id, "--json"]);
  assert.equal(evidence.code, 0, evidence.stderr);
  const proof = JSON.parse(evidence.stdout) as { emails: { emailId: string; lastStatus: string | null }[]; emailEvents: { type: string }[] };
  assert.deepEqual(proof.emailEvents.map((e) => e.type), ["email.delivery_delayed", "email.delivered", "email.complained"]);
  assert.equal(proof.emails.find((e) => e.emailId === emailId)?.lastStatus, "complained", "from the webhook, without asking Resend");
});

test("events for an email paidup did not send are acknowledged and ignored", async () => {
  const body = resendEvent("email.bounced", "re_not_ours_00000001");
  const res = await post(body, svixHeaders(body, RESEND_SECRET));
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { ignored?: string }).ignored, "not an email paidup sent");
});

test("forged, tampered, stale and unsigned events are refused with 400 and change nothing", async () => {
  const { id, emailId } = await delivered("careful@example.com");
  const body = resendEvent("email.bounced", emailId);
  const forged = await post(body, svixHeaders(body, `whsec_${Buffer.from("not-the-secret").toString("base64")}`));
  const tampered = await post(body.replace("email.bounced", "email.delivered"), svixHeaders(body, RESEND_SECRET));
  const stale = await post(body, svixHeaders(body, RESEND_SECRET, { timestamp: Math.floor(Date.now() / 1000) - 600 }));
  const unsigned = await post(body, { "content-type": "application/json" });
  assert.deepEqual([forged.status, tampered.status, stale.status, unsigned.status], [400, 400, 400, 400]);
  assert.equal(shop.row(id)?.state, "delivered");
  assert.ok(!stderr.includes(RESEND_SECRET), "the secret never reaches the logs");
});

test("a correctly signed body that is not an email event is answered and ignored; other methods get 405", async () => {
  for (const body of ["[]", "{}", '{"type":"email.bounced","data":null}']) {
    const res = await post(body, svixHeaders(body, RESEND_SECRET));
    assert.equal(res.status, 200, body);
  }
  assert.equal((await fetch(`${base}/webhooks/resend`)).status, 405);
});
