import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import Stripe from "stripe";
import { BIN, paidCharge, Shop } from "./helpers/shop";

const SECRET = "whsec_test_daemon_serve_secret_0000";
let shop: Shop;
before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());

test("daemon --serve runs passes and receives webhooks in one process, and stops cleanly on SIGTERM", async () => {
  const polled = shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 5, billing_details: { email: "polled@example.com" } }));
  const child = spawn(process.execPath, [BIN, "daemon", "--serve", "--port", "0", "--schedule", "*/2 * * * * *"], {
    cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`daemon exited ${code}: ${stderr}`)));
  });

  const hooked = shop.stripe.addCharge(paidCharge({ billing_details: { email: "hooked@example.com" } }));
  const body = JSON.stringify({ id: "evt_daemon_serve", object: "event", type: "charge.succeeded", created: Math.floor(Date.now() / 1000), data: { object: { id: hooked.id, object: "charge" } } });
  const signature = new Stripe("sk_test_signer").webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
  const res = await fetch(`${base}/webhooks/stripe`, { method: "POST", body, headers: { "stripe-signature": signature } });
  assert.equal(res.status, 200);

  const deadline = Date.now() + 8000;
  while (!(shop.row(polled.id)?.state === "delivered" && shop.row(hooked.id)?.state === "delivered")) {
    assert.ok(Date.now() < deadline, `both charges delivered in time: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGTERM");
  assert.equal(await exited, 0, stderr);
  for (const id of [polled.id, hooked.id]) {
    assert.equal(shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length, 1);
  }
});

test("daemon --serve refuses to start without STRIPE_WEBHOOK_SECRET", async () => {
  const r = await shop.run(["daemon", "--serve"], { env: { STRIPE_WEBHOOK_SECRET: undefined } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /STRIPE_WEBHOOK_SECRET is not set/);
});
