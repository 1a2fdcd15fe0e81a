import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { after, before, test } from "node:test";
import Stripe from "stripe";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS, listeningOn } from "./helpers/wait";

// Hostile and broken requests against the real `serve` process: none of them may stop it.

const SECRET = "whsec_test_paidup_hostile_secret_000";
const signer = new Stripe("sk_test_signer_only");
// Above the server's connection cap (512) and below the flood below, so the flood hits it.
const FILE_LIMIT = 700;
let shop: Shop;
let server: ChildProcess;
let base: string;
let port: number;
let serverErr = "";
let exitCode: number | null | undefined;

function startServe(): Promise<string> {
  // `ulimit -n` gives the process a file limit a flood of connections can reach.
  server = spawn("sh", ["-c", `ulimit -n ${FILE_LIMIT} && exec "$0" "$@"`, process.execPath, BIN, "serve", "--port", "0"], {
    cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET, LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"],
  });
  server.stderr?.on("data", (d: Buffer) => (serverErr += d.toString()));
  server.on("exit", (code) => (exitCode = code));
  return listeningOn(server, () => serverErr);
}

before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  base = await startServe();
  port = Number(new URL(base).port);
});
after(async () => {
  server.kill("SIGTERM");
  if (exitCode === undefined) await new Promise((r) => server.once("exit", r));
  await shop.close();
});

async function until(check: () => boolean | Promise<boolean>, ms = PATIENCE_MS): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms; serve stderr: ${serverErr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function alive(): Promise<boolean> {
  assert.equal(exitCode, undefined, `serve exited (${exitCode}): ${serverErr.slice(-2000)}`);
  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 || res.status === 503;
  } catch {
    return false;
  }
}

function postSigned(body: string): Promise<Response> {
  const header = signer.webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
  return fetch(`${base}/webhooks/stripe`, { method: "POST", body, headers: { "content-type": "application/json", "stripe-signature": header } });
}

/** Sends headers announcing `announced` bytes, `sent` of them, then hangs up. */
function hangUpMidBody(announced: number, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.write(`POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: ${announced}\r\n\r\n`);
      socket.write("{".padEnd(sent, " "), () => setTimeout(() => socket.destroy(), 50));
    });
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
  });
}

test("a POST that announces a body and hangs up mid-body does not stop serve", async () => {
  for (let i = 0; i < 5; i++) await hangUpMidBody(5000, 100);
  await until(alive);
  const c = shop.stripe.addCharge(paidCharge());
  const body = JSON.stringify({ id: "evt_after_hangups", object: "event", type: "charge.succeeded", created: Math.floor(Date.now() / 1000), data: { object: { id: c.id, object: "charge" } } });
  assert.equal((await postSigned(body)).status, 200);
  await until(() => shop.row(c.id)?.state === "delivered");
});

test("a correctly signed event without data is answered and ignored, and serve keeps running", async () => {
  for (const body of [
    JSON.stringify({ id: "evt_no_data", object: "event", type: "charge.succeeded" }),
    JSON.stringify({ id: "evt_null_object", object: "event", type: "charge.succeeded", data: { object: null } }),
    JSON.stringify({ id: "evt_string_data", object: "event", type: "checkout.session.completed", data: "x" }),
    JSON.stringify({ id: 12, type: ["charge.succeeded"], data: { object: { id: { nested: true } } } }),
  ]) {
    const res = await postSigned(body);
    assert.ok([200, 400].includes(res.status), `${body} answered ${res.status}`);
  }
  await until(alive);
});

test("a correctly signed JSON array, number or null is answered and ignored, and serve keeps running", async () => {
  for (const body of ["[]", '[{"id":"evt_in_array","type":"charge.succeeded"}]', "42", "null", '"text"']) {
    const res = await postSigned(body);
    assert.ok([200, 400].includes(res.status), `${body} answered ${res.status}`);
  }
  await until(alive);
});

test("a flood of idle connections past the file limit does not stop serve, and it answers again once they go", async () => {
  const flood: net.Socket[] = [];
  await Promise.all(Array.from({ length: FILE_LIMIT + 300 }, () => new Promise<void>((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => resolve());
    s.on("error", () => resolve());
    flood.push(s);
  })));
  assert.equal(exitCode, undefined, `serve exited under the flood: ${serverErr.slice(-2000)}`);
  for (const s of flood) s.destroy();
  await until(alive);
});

test("slow headers trickled byte by byte are cut off by the server", async () => {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  let closed = false;
  socket.on("close", () => (closed = true));
  socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  // One byte every 200 ms: each byte resets an idle timer, so only a headers deadline ends it.
  const drip = setInterval(() => socket.destroyed || socket.write("a"), 200);
  try {
    // The headers timeout (10 s) closes it; a server without one keeps it as long as bytes come.
    await until(() => closed, 30_000);
  } finally {
    clearInterval(drip);
    socket.destroy();
  }
  await until(alive);
});

test("one client hammering POST /downloads gets 10 answers a minute, then 429 with Retry-After, and /healthz stays quick", async () => {
  const post = () => fetch(`${base}/downloads`, { method: "POST", body: "email=hammer%40example.com", headers: { "content-type": "application/x-www-form-urlencoded" } });
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 30; i++) {
    const res = await post();
    statuses.push(res.status);
    if (res.status === 429) retryAfter ??= res.headers.get("retry-after");
    await res.text();
  }
  assert.equal(statuses.filter((s) => s === 200).length, 10, statuses.join(" "));
  assert.equal(statuses.filter((s) => s === 429).length, 20);
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`);
  const started = Date.now();
  assert.ok(await alive());
  assert.ok(Date.now() - started < 1000, "healthz answered within a second");
  assert.equal((await fetch(`${base}/downloads`)).status, 200, "the form itself is not limited");
});
