import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, test } from "node:test";
import { BACKEND, DEFAULT_PRODUCTS, paidCharge, Shop, STRIPE_KEY } from "./helpers/shop";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
  shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 5 }));
});
after(async () => shop.close());

function ledgerBytes(): Buffer {
  return BACKEND === "postgres" ? Buffer.from(shop.contentDigest()) : fs.readFileSync(shop.dbPath);
}

test("a missing STRIPE_SECRET_KEY is exit 2 and nothing is touched", async () => {
  const bytes = ledgerBytes();
  const r = await shop.run(["reconcile"], { env: { STRIPE_SECRET_KEY: undefined } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /STRIPE_SECRET_KEY is not set/);
  assert.deepEqual(ledgerBytes(), bytes);
  assert.equal(shop.stripe.requestCount(), 0);
});

test("a missing RESEND_API_KEY is exit 2 outside --dry-run", async () => {
  const r = await shop.run(["reconcile"], { env: { RESEND_API_KEY: undefined } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /RESEND_API_KEY is not set/);
  assert.equal(shop.resend.requestCount(), 0);
});

test("a config error names the path of the bad field and changes nothing", async () => {
  const bytes = ledgerBytes();
  shop.writeConfig({ from: "Shop <shop@example.com>", products: [DEFAULT_PRODUCTS[0], { ...DEFAULT_PRODUCTS[1], match: { price: 42 } }] });
  try {
    const r = await shop.run(["reconcile"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /products\[1\]\.match\.price/);
    assert.deepEqual(ledgerBytes(), bytes);
  } finally {
    shop.writeConfig({ from: "Shop <shop@example.com>", products: DEFAULT_PRODUCTS });
  }
});

test("a config file that is not JSON is exit 2 with its path", async () => {
  const r = await shop.run(["reconcile"], { env: { PAIDUP_CONFIG: `${shop.dir}/templates/ebook.txt` } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /ebook\.txt is not valid JSON/);
});

test("an unknown flag is exit 2", async () => {
  const r = await shop.run(["reconcile", "--frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option/);
});

test("a key Stripe rejects is exit 2 and its characters never appear in the output", async () => {
  const wrong = "sk_test_51WrongKeyWhichStripeEchoesXYZ9";
  const r = await shop.run(["reconcile", "--json"], { env: { STRIPE_SECRET_KEY: wrong } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Stripe rejected STRIPE_SECRET_KEY/);
  for (const text of [r.stdout, r.stderr]) {
    assert.ok(!text.includes("XYZ9"), "the key's tail (which Stripe echoes) is not printed");
    assert.ok(!text.includes(wrong));
    assert.ok(!text.includes(STRIPE_KEY));
  }
});

test("a ledger made with a test-mode key refuses a live-mode key", async () => {
  const r = await shop.run(["reconcile"], { env: { STRIPE_SECRET_KEY: "sk_live_51SomeLiveKey000000000000" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /test-mode Stripe key, but STRIPE_SECRET_KEY is a live-mode key/);
  assert.equal(shop.resend.requestCount(), 0);
});

test("logs in JSON mode are one object per line and carry no secrets", async () => {
  const r = await shop.run(["reconcile"], { env: { LOG_LEVEL: "debug", LOG_FORMAT: "json" } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trim().split("\n").filter(Boolean);
  assert.ok(lines.length > 0);
  for (const line of lines) {
    const parsed = JSON.parse(line) as { level: string; message: string };
    assert.ok(parsed.level && parsed.message);
    assert.ok(!line.includes(STRIPE_KEY) && !line.includes("re_FakeResendKey"));
  }
});
