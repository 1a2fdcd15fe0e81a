import assert from "node:assert/strict";
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import net from "node:net";
import { after, before, test } from "node:test";
import Stripe from "stripe";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS, exitWithin, listeningOn } from "./helpers/wait";

const SECRET = "whsec_test_daemon_serve_secret_0000";
let shop: Shop;
before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
const children: ChildProcessWithoutNullStreams[] = [];
after(async () => {
  // A failed assertion must not leave a daemon holding the test run open.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await shop.close();
});

test("daemon --serve runs passes and receives webhooks in one process, and stops cleanly on SIGTERM", async () => {
  const polled = shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 5, billing_details: { email: "polled@example.com" } }));
  const child = spawn(process.execPath, [BIN, "daemon", "--serve", "--port", "0", "--schedule", "*/2 * * * * *"], {
    cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const base = await listeningOn(child, () => stderr);

  const hooked = shop.stripe.addCharge(paidCharge({ billing_details: { email: "hooked@example.com" } }));
  const body = JSON.stringify({ id: "evt_daemon_serve", object: "event", type: "charge.succeeded", created: Math.floor(Date.now() / 1000), data: { object: { id: hooked.id, object: "charge" } } });
  const signature = new Stripe("sk_test_signer").webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
  const res = await fetch(`${base}/webhooks/stripe`, { method: "POST", body, headers: { "stripe-signature": signature } });
  assert.equal(res.status, 200);

  const deadline = Date.now() + PATIENCE_MS;
  while (!(shop.row(polled.id)?.state === "delivered" && shop.row(hooked.id)?.state === "delivered")) {
    assert.ok(Date.now() < deadline, `both charges delivered in time: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGTERM");
  assert.equal(await exitWithin(child, () => stderr), 0, stderr);
  for (const id of [polled.id, hooked.id]) {
    assert.equal(shop.resend.sent.filter((s) => s.idempotencyKey === `paidup-${id}`).length, 1);
  }
});

function startDaemonServe(fileLimit?: number): { child: ChildProcessWithoutNullStreams; exited: Promise<number | null>; base: Promise<string>; stderr: () => string } {
  const args = [BIN, "daemon", "--serve", "--port", "0", "--schedule", "*/1 * * * * *"];
  // `ulimit -n` gives the process a file limit that a flood of connections can reach.
  const child = spawn("sh", ["-c", `${fileLimit ? `ulimit -n ${fileLimit} && ` : ""}exec "$0" "$@"`, process.execPath, ...args], {
    cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const base = listeningOn(child, () => stderr);
  return { child, exited, base, stderr: () => stderr };
}

test("a request that hangs up mid-body under daemon --serve leaves the process and its passes running", async () => {
  const d = startDaemonServe();
  const port = Number(new URL(await d.base).port);
  let exitedEarly: number | null | undefined;
  void d.exited.then((code) => (exitedEarly = code));
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.write(`POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: 4096\r\n\r\n{"id":`);
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on("error", () => undefined);
      socket.on("close", () => resolve());
    });
  }
  // Paid after the broken requests: only a later pass can deliver it.
  const later = shop.stripe.addCharge(paidCharge({ billing_details: { email: "after-hangup@example.com" } }));
  const deadline = Date.now() + PATIENCE_MS;
  while (shop.row(later.id)?.state !== "delivered") {
    assert.equal(exitedEarly, undefined, `daemon --serve exited: ${d.stderr()}`);
    assert.ok(Date.now() < deadline, `a later pass delivered the charge: ${d.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  d.child.kill("SIGTERM");
  assert.equal(await exitWithin(d.child, d.stderr), 0, d.stderr());
});

test("a flood of idle connections held open past the file limit does not stop the passes of daemon --serve", async () => {
  const fileLimit = 700;
  const d = startDaemonServe(fileLimit);
  const port = Number(new URL(await d.base).port);
  let flooding = true;
  const open = new Set<net.Socket>();
  // An attacker that reconnects as soon as a socket is closed, so the flood never lets go.
  const connect = () => {
    const s = net.connect(port, "127.0.0.1");
    open.add(s);
    s.on("error", () => undefined);
    s.on("close", () => {
      open.delete(s);
      if (flooding) setTimeout(connect, 5);
    });
  };
  for (let i = 0; i < fileLimit + 300; i++) connect();
  try {
    const paid = shop.stripe.addCharge(paidCharge({ billing_details: { email: "during-flood@example.com" } }));
    const deadline = Date.now() + PATIENCE_MS;
    while (shop.row(paid.id)?.state !== "delivered") {
      assert.ok(Date.now() < deadline, `a pass delivered the charge during the flood: ${d.stderr().slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    flooding = false;
    for (const s of open) s.destroy();
  }
  d.child.kill("SIGTERM");
  assert.equal(await exitWithin(d.child, d.stderr), 0, d.stderr());
});

test("daemon --serve refuses to start without STRIPE_WEBHOOK_SECRET", async () => {
  const r = await shop.run(["daemon", "--serve"], { env: { STRIPE_WEBHOOK_SECRET: undefined } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /STRIPE_WEBHOOK_SECRET is not set/);
});
