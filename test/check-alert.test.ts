import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { FakeChat } from "./fakes/fake-chat";
import { DEFAULT_PRODUCTS, Shop } from "./helpers/shop";

// `paidup check --alert`: one test alert through every configured channel, exit 2 naming the
// one that failed, exit 2 when there is none. The real CLI against the fakes.

const OWNER = "owner@example.com";
let shop: Shop;
let slack: FakeChat;
before(async () => {
  shop = await Shop.start({ config: { alertTo: OWNER } });
  slack = await new FakeChat("slack").start();
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => Promise.all([shop.close(), slack.close()]));
beforeEach(() => {
  shop.resend.clearFaults();
  slack.failing = 0;
});

const testAlerts = () => shop.resend.sentTo(OWNER).filter((e) => e.subject === "[paidup] test alert");

test("check --alert sends one test alert by email and one to the webhook, and says so per channel", async () => {
  const [emails, posts] = [testAlerts().length, slack.taken.length];
  const r = await shop.run(["check", "--alert"], { env: { PAIDUP_ALERT_WEBHOOK_URL: slack.url } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^✓ test alert through the email to owner@example\.com: sent$/m);
  assert.match(r.stdout, /^✓ test alert through the webhook at 127\.0\.0\.1:\d+: sent$/m);
  assert.match(r.stdout, /^all checks passed$/m);
  assert.equal(testAlerts().length, emails + 1);
  assert.equal(slack.taken.length, posts + 1);
  const body = slack.taken.at(-1) as { text: string; paidup: unknown };
  assert.deepEqual(body.paidup, { kind: "test", charges: [] });
  assert.match(body.text, /^\[paidup\] test alert\n\nThis is a test alert from `paidup check --alert`/);
  assert.ok(!r.stdout.includes(slack.secret), "the webhook's path is not shown");

  // A second run is a second test alert, not Resend replaying the first under the same key.
  assert.equal((await shop.run(["check", "--alert"])).code, 0);
  assert.equal(testAlerts().length, emails + 2);
});

test("check --alert exits 2 naming the webhook when it refuses, and still sends the email", async () => {
  const emails = testAlerts().length;
  slack.failing = 1;
  const r = await shop.run(["check", "--alert"], { env: { PAIDUP_ALERT_WEBHOOK_URL: slack.url } });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^✗ test alert through the webhook at 127\.0\.0\.1:\d+: 127\.0\.0\.1:\d+ answered 500$/m);
  assert.match(r.stdout, /^✓ test alert through the email to owner@example\.com: sent$/m);
  assert.match(r.stdout, /^1 check\(s\) failed$/m);
  assert.equal(testAlerts().length, emails + 1);
});

test("check --alert exits 2 naming the email channel when Resend refuses the test alert", async () => {
  const posts = slack.taken.length;
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: Infinity });
  const r = await shop.run(["check", "--alert"], { env: { PAIDUP_ALERT_WEBHOOK_URL: slack.url, PAIDUP_RESEND_TIMEOUT_MS: "2000" } });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^✗ test alert through the email to owner@example\.com: /m);
  assert.match(r.stdout, /^✓ test alert through the webhook at 127\.0\.0\.1:\d+: sent$/m);
  assert.equal(slack.taken.length, posts + 1);
});

test("check --alert with no channel configured is exit 2 and says how to configure one; plain check sends nothing", async () => {
  shop.writeConfig({ from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS });
  const r = await shop.run(["check", "--alert"]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^✗ test alert: no alert channel is configured: set alertTo in the config \(email through Resend\) or PAIDUP_ALERT_WEBHOOK_URL \(a chat webhook\)$/m);
  const before = shop.resend.requestCount({ method: "POST" });
  const plain = await shop.run(["check"], { env: { PAIDUP_ALERT_WEBHOOK_URL: slack.url } });
  assert.equal(plain.code, 0, plain.stdout);
  assert.equal(shop.resend.requestCount({ method: "POST" }), before);
  // A webhook alone is a channel.
  const posts = slack.taken.length;
  const hookOnly = await shop.run(["check", "--alert"], { env: { PAIDUP_ALERT_WEBHOOK_URL: slack.url } });
  assert.equal(hookOnly.code, 0, hookOnly.stdout);
  assert.equal(slack.taken.length, posts + 1);
});
