import assert from "node:assert/strict";
import { ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS, exitWithin, listeningOn } from "./helpers/wait";

// GET /metrics scraped for real from `daemon --serve` and from `serve` alone.

const SECRET = "whsec_test_metrics_secret_000000000";
let shop: Shop;
const children: ChildProcessWithoutNullStreams[] = [];

before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await shop.close();
});

function start(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; base: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args, "--port", "0"], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return listeningOn(child, () => stderr).then((base) => ({ child, base, stderr: () => stderr }));
}

/** The value of one sample in Prometheus' text format, or undefined when absent. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return res.text();
}

test("daemon --serve exposes passes by outcome, deliveries, failures by class, stuck charges by state, the last good pass, send latency and Resend's rate limit", async () => {
  // Two sendable charges, one of which (whichever is sent first) Resend refuses; one without a product.
  const sendable = [shop.stripe.addCharge(paidCharge({ billing_details: { email: "metrics-a@example.com" } })), shop.stripe.addCharge(paidCharge({ billing_details: { email: "metrics-b@example.com" } }))];
  const odd = shop.stripe.addCharge(paidCharge({ metadata: { product: "nothing-matches" } }));
  const settled = () => sendable.map((c) => shop.row(c.id)?.state).sort().join(",") === "delivered,needs_review";
  shop.resend.addFault({ path: "/emails", kind: "status", status: 422, body: { name: "validation_error", statusCode: 422, message: "Invalid `to` field." }, times: 1 });
  const before = Date.now();
  const d = await start(["daemon", "--serve", "--schedule", "*/1 * * * * *"]);
  try {
    const deadline = Date.now() + PATIENCE_MS;
    let text = "";
    for (;;) {
      text = await scrape(d.base);
      if ((sample(text, "paidup_passes_total", 'outcome="attention"') ?? 0) >= 1 && settled()) break;
      assert.ok(Date.now() < deadline, `passes ran: ${d.stderr()}\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    text = await scrape(d.base);
    assert.equal(shop.row(odd.id)?.state, "needs_review");
    assert.equal(sample(text, "paidup_passes_total", 'outcome="ok"'), 0, "nothing passes as exit 0 while charges are stuck");
    assert.equal(sample(text, "paidup_passes_total", 'outcome="failed"'), 0);
    assert.equal(sample(text, "paidup_deliveries_total"), 1);
    assert.equal(sample(text, "paidup_send_failures_total", 'class="refused"'), 1);
    assert.equal(sample(text, "paidup_stuck_charges", 'state="needs_review"'), 2);
    assert.equal(sample(text, "paidup_stuck_charges", 'state="sending"'), 0);
    const lastGood = sample(text, "paidup_last_successful_pass_timestamp_seconds") ?? 0;
    assert.ok(lastGood * 1000 >= before - 1000 && lastGood * 1000 <= Date.now() + 1000, `last good pass ${lastGood}`);
    assert.ok((sample(text, "paidup_send_duration_seconds_count") ?? 0) >= 2, "both sends timed");
    assert.ok(sample(text, "paidup_send_duration_seconds_bucket", 'le="+Inf"') !== undefined);
    assert.equal(sample(text, "paidup_resend_ratelimit_limit"), 1_000_000, "the fake's limit, as its headers say");
    assert.ok((sample(text, "paidup_resend_ratelimit_remaining") ?? -1) >= 0);
    assert.equal(sample(text, "paidup_resend_allowed_sends_per_second"), 100, "resend.maxPerSecond, under Resend's limit");
    assert.equal((await fetch(`${d.base}/metrics`, { method: "POST" })).status, 405);
  } finally {
    d.child.kill("SIGTERM");
  }
  assert.equal(await exitWithin(d.child, d.stderr), 0, d.stderr());
  const refused = sendable.find((c) => shop.row(c.id)?.state === "needs_review");
  for (const id of [odd.id, refused?.id ?? ""]) assert.equal((await shop.run(["resolve", id, "--note", "done by hand"])).code, 0);
});

test("serve alone reads the ledger's gauges at scrape time: stuck charges and the last good pass of passes run elsewhere", async () => {
  const d = await start(["serve"]);
  try {
    const beforePass = await scrape(d.base);
    assert.equal(sample(beforePass, "paidup_stuck_charges", 'state="needs_review"'), 0);
    assert.equal(sample(beforePass, "paidup_resend_ratelimit_remaining"), -1, "no Resend answer seen yet");
    const stuck = shop.stripe.addCharge(paidCharge({ metadata: { product: "still-nothing" } }));
    assert.equal((await shop.run(["reconcile"])).code, 1);
    const afterPass = await scrape(d.base);
    assert.equal(sample(afterPass, "paidup_stuck_charges", 'state="needs_review"'), 1);
    assert.equal(sample(afterPass, "paidup_passes_total", 'outcome="attention"'), 0, "the pass ran in another process");
    assert.ok((sample(afterPass, "paidup_last_successful_pass_timestamp_seconds") ?? 0) > 0);
    assert.equal(shop.row(stuck.id)?.state, "needs_review");
  } finally {
    d.child.kill("SIGTERM");
  }
  assert.equal(await exitWithin(d.child, d.stderr), 0, d.stderr());
});
