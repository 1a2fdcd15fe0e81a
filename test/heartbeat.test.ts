import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, beforeEach, test } from "node:test";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS, exitWithin } from "./helpers/wait";
import { Receiver } from "./helpers/receiver";

// PAIDUP_HEARTBEAT_URL against a local receiver: `<url>` after a pass that ends as exit 0,
// `<url>/fail` otherwise; a receiver that fails or hangs never fails or holds the pass.

const TOKEN = "hc-secret-token-5f0c2a9e";
let shop: Shop;
let monitor: Receiver;
let pingUrl: string;

before(async () => {
  shop = await Shop.start();
  monitor = await new Receiver().start();
  pingUrl = `${monitor.url}/ping/${TOKEN}`;
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => {
  await monitor.close();
  await shop.close();
});
beforeEach(() => {
  monitor.mode = "ok";
  monitor.requests.length = 0;
});

const withHeartbeat = (extra: Record<string, string> = {}) => ({ env: { PAIDUP_HEARTBEAT_URL: pingUrl, LOG_LEVEL: "debug", ...extra } });

test("a pass that ends as exit 0 requests the heartbeat URL once", async () => {
  shop.stripe.addCharge(paidCharge());
  const r = await shop.run(["reconcile"], withHeartbeat());
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(monitor.paths(), [`/ping/${TOKEN}`]);
  assert.ok(!r.stderr.includes(TOKEN) && !r.stdout.includes(TOKEN), "the token never reaches the output");
});

test("a pass that leaves a charge stuck (exit 1) requests <url>/fail", async () => {
  const odd = shop.stripe.addCharge(paidCharge({ metadata: { product: "no-such-product" } }));
  const r = await shop.run(["reconcile"], withHeartbeat());
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(monitor.paths(), [`/ping/${TOKEN}/fail`]);
  // Still stuck on the next pass, which handles nothing: still /fail, as its exit code says.
  const again = await shop.run(["reconcile"], withHeartbeat());
  assert.equal(again.code, 1);
  assert.deepEqual(monitor.paths(), [`/ping/${TOKEN}/fail`, `/ping/${TOKEN}/fail`]);
  await shop.run(["resolve", odd.id, "--note", "sent by hand"]);
});

test("a pass that fails (exit 3) requests <url>/fail", async () => {
  shop.stripe.addFault({ path: /^\/v1\/charges$/, kind: "status", status: 500, body: { error: { message: "down" } }, times: Infinity });
  try {
    const r = await shop.run(["reconcile"], withHeartbeat());
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(monitor.paths(), [`/ping/${TOKEN}/fail`]);
  } finally {
    shop.stripe.clearFaults();
  }
});

test("a heartbeat receiver that never answers neither fails the pass nor holds it past the heartbeat timeout", async () => {
  monitor.mode = "hang";
  shop.stripe.addCharge(paidCharge());
  const r = await shop.run(["reconcile"], withHeartbeat({ PAIDUP_HEARTBEAT_TIMEOUT_MS: "300" }));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(monitor.requests.length, 1);
  assert.match(r.stderr, /heartbeat to http:\/\/127\.0\.0\.1:\d+\/… failed \(no answer within 300 ms\)/);
  assert.ok(!r.stderr.includes(TOKEN), "the token never reaches the logs");
});

test("a heartbeat answered 500, or refused, does not change the exit code", async () => {
  monitor.mode = "error";
  const r = await shop.run(["reconcile"], withHeartbeat());
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /heartbeat .* failed \(answered 500\)/);
  const closed = await new Receiver().start();
  await closed.close();
  const refused = await shop.run(["reconcile"], { env: { PAIDUP_HEARTBEAT_URL: `${closed.url}/ping/${TOKEN}` } });
  assert.equal(refused.code, 0, refused.stderr);
  assert.match(refused.stderr, /heartbeat to http:\/\/127\.0\.0\.1:\d+\/… failed \(ECONNREFUSED\)/);
  assert.ok(!refused.stderr.includes(TOKEN));
});

test("a dry run sends no heartbeat", async () => {
  const r = await shop.run(["reconcile", "--dry-run"], withHeartbeat());
  assert.equal(r.code, 0, r.stderr);
  assert.equal(monitor.requests.length, 0);
});

test("a heartbeat URL that is not http(s) is a configuration error (exit 2) and names no secret", async () => {
  for (const args of [["reconcile"], ["daemon"]]) {
    const r = await shop.run(args, { env: { PAIDUP_HEARTBEAT_URL: `ftp://example.com/${TOKEN}` } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /PAIDUP_HEARTBEAT_URL is not an http\(s\) URL/);
    assert.ok(!r.stderr.includes(TOKEN));
  }
});

test("each pass of the daemon sends its heartbeat", async () => {
  const child = spawn(process.execPath, [BIN, "daemon", "--schedule", "*/1 * * * * *"], {
    cwd: shop.dir, env: { ...shop.env, PAIDUP_HEARTBEAT_URL: pingUrl }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    const deadline = Date.now() + PATIENCE_MS;
    while (monitor.requests.length < 2) {
      assert.ok(Date.now() < deadline, `two heartbeats from two passes: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(monitor.paths().every((p) => p === `/ping/${TOKEN}`), monitor.paths().join(" "));
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exitWithin(child, () => stderr), 0, stderr);
  assert.ok(!stderr.includes(TOKEN));
});
