import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FakeResend } from "./fakes/fake-resend";
import { DEFAULT_PRODUCTS, RESEND_KEY, Shop, SQLITE_ONLY, STRIPE_KEY } from "./helpers/shop";

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

const GOOD = { from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS };
const noSecrets = (text: string) => {
  assert.ok(!text.includes(STRIPE_KEY) && !text.includes(STRIPE_KEY.slice(-8)), "the Stripe key never appears");
  assert.ok(!text.includes(RESEND_KEY), "the Resend key never appears");
};

test("check passes on a good setup, one line per check, and sends no email", async () => {
  shop.resend.resetCounters();
  const r = await shop.run(["check"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const line of [/^✓ stripe key: accepted \(test mode\)/m, /^✓ resend key: accepted$/m, /^✓ config: /m, /^✓ from address: /m,
    /^✓ templates of ship-fast: render$/m, /^✓ attachments of ship-fast: 1 file\(s\) present/m, /^✓ ledger: .* writable by .*, intact$/m, /^✓ from domain: example\.com verified in Resend$/m, /^all checks passed$/m]) {
    assert.match(r.stdout, line);
  }
  assert.equal(shop.resend.requestCount({ method: "POST" }), 0, "check sends nothing");
  assert.equal(shop.resend.requestCount({ method: "GET", path: "/domains" }), 1, "the key is tried on GET /domains");
  noSecrets(r.stdout + r.stderr);
});

test("check counts a sending-only Resend key (restricted_api_key) as accepted", async () => {
  const sendingOnly = new FakeResend({ apiKey: RESEND_KEY, keyAccess: "sending" });
  await sendingOnly.start();
  try {
    const r = await shop.run(["check"], { env: { RESEND_BASE_URL: sendingOnly.url } });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^✓ resend key: accepted \(sending-only key\)$/m);
  } finally {
    await sendingOnly.close();
  }
});

test("check fails with exit 2 when either key is rejected, without printing the key", async () => {
  const resend = await shop.run(["check"], { env: { RESEND_API_KEY: "re_WrongKeyForTheTest_999" } });
  assert.equal(resend.code, 2);
  assert.match(resend.stdout, /^✗ resend key: Resend rejected RESEND_API_KEY \(invalid_api_key\)$/m);
  assert.ok(!resend.stdout.includes("re_WrongKeyForTheTest_999"));
  const stripe = await shop.run(["check"], { env: { STRIPE_SECRET_KEY: "sk_test_WrongKeyForTheTest0000wxyz" } });
  assert.equal(stripe.code, 2);
  assert.match(stripe.stdout, /^✗ stripe key: Stripe rejected STRIPE_SECRET_KEY/m);
  assert.ok(!stripe.stdout.includes("wxyz"), "not even the key's tail (Stripe's own message repeats it)");
  assert.match(stripe.stdout, /^1 check\(s\) failed$/m);
});

test("check names each missing key", async () => {
  const r = await shop.run(["check"], { env: { STRIPE_SECRET_KEY: undefined, RESEND_API_KEY: undefined } });
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^✗ stripe key: STRIPE_SECRET_KEY is not set$/m);
  assert.match(r.stdout, /^✗ resend key: RESEND_API_KEY is not set$/m);
});

test("check fails on an unknown placeholder, an undefined link, a missing attachment and an implausible from", async () => {
  fs.writeFileSync(path.join(shop.dir, "templates", "typo.txt"), "Hi {{nmae}}, get it at {{links.dowload}}\n");
  shop.writeConfig({
    ...GOOD,
    from: "Shop",
    products: [...DEFAULT_PRODUCTS, { key: "typo", match: { amount: 100, currency: "usd" }, subject: "Yours", text: "templates/typo.txt", attachments: ["products/gone.zip"], links: { download: "https://example.com/x" } }],
  });
  try {
    const r = await shop.run(["check"]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /^✗ templates of typo: text uses unknown placeholder\(s\) \{\{nmae\}\}; text uses links the product does not define: links\.dowload$/m);
    assert.match(r.stdout, /^✗ attachments of typo: product file .*gone\.zip is missing$/m);
    assert.match(r.stdout, /^✗ from address: "Shop" is not an address/m);
    assert.match(r.stdout, /^✓ templates of ship-fast: render$/m, "the good products still pass");
  } finally {
    shop.writeConfig(GOOD);
  }
});

test("check fails on an invalid config file and on a missing ledger", { skip: SQLITE_ONLY }, async () => {
  const r = await shop.run(["check"], { env: { PAIDUP_CONFIG: path.join(shop.dir, "nope.json"), PAIDUP_DB: path.join(shop.dir, "nope.db") } });
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^✗ config: config file .*nope\.json does not exist$/m);
  assert.match(r.stdout, /^✗ ledger: no ledger at .*nope\.db$/m);
  assert.ok(!fs.existsSync(path.join(shop.dir, "nope.db")), "check creates no ledger");
});

test("check fails on an attachment that is a folder or an empty file, and a pass puts such charges in needs_review", async () => {
  fs.mkdirSync(path.join(shop.dir, "products", "folder.zip"));
  fs.writeFileSync(path.join(shop.dir, "products", "empty.zip"), "");
  const attach = (key: string, file: string, amount: number) => ({ key, match: { amount, currency: "usd" }, subject: "Yours", text: "templates/ebook.txt", attachments: [file] });
  shop.writeConfig({ ...GOOD, products: [...DEFAULT_PRODUCTS, attach("folder", "products/folder.zip", 101), attach("empty", "products/empty.zip", 102)] });
  try {
    const r = await shop.run(["check"]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stdout, /^✗ attachments of folder: product file .*folder\.zip is a folder, not a file/m);
    assert.match(r.stdout, /^✗ attachments of empty: product file .*empty\.zip is empty \(0 bytes\)$/m);
    const now = Math.floor(Date.now() / 1000);
    const folder = shop.stripe.addCharge({ amount: 101, currency: "usd", created: now - 5, billing_details: { email: "f@example.com" } });
    const empty = shop.stripe.addCharge({ amount: 102, currency: "usd", created: now - 4, billing_details: { email: "e@example.com" } });
    const pass = await shop.run(["reconcile", "--since", "1m"]);
    assert.equal(pass.code, 1, pass.stderr);
    assert.match(shop.row(folder.id)?.reason ?? "", /is a folder, not a file/);
    assert.match(shop.row(empty.id)?.reason ?? "", /is empty \(0 bytes\)/);
    assert.equal(shop.resend.sentTo("e@example.com").length, 0, "no email with an empty attachment went out");
  } finally {
    shop.writeConfig(GOOD);
  }
});

test("check fails on a ledger file the user running it cannot write, in a folder it can", { skip: SQLITE_ONLY }, async (t) => {
  const asRoot = process.getuid?.() === 0;
  const stateDir = path.dirname(shop.dbPath);
  const modes = [shop.dir, stateDir, shop.dbPath].map((f) => [f, fs.statSync(f).mode & 0o777] as const);
  // `sudo paidup init` made the file; the service user was given the folder, not the file. SQLite
  // then opens the file read-only without a word, and BEGIN IMMEDIATE alone still succeeds.
  try {
    if (asRoot) {
      fs.chmodSync(shop.dir, 0o755);
      fs.chownSync(stateDir, 65534, 65534);
      fs.chmodSync(shop.dbPath, 0o644);
    } else {
      fs.chmodSync(shop.dbPath, 0o444);
    }
    const r = await shop.run(["check"], asRoot ? { uid: 65534, gid: 65534 } : {});
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^✗ ledger: .*paidup\.db.* cannot be written by \S+ \(uid \d+\)/m);
    assert.match(r.stdout, /^✓ config: /m, "the rest of the setup was readable by that user");
  } finally {
    if (asRoot) fs.chownSync(stateDir, 0, 0);
    for (const [file, mode] of modes) fs.chmodSync(file, mode);
  }
  t.diagnostic(asRoot ? "ran check as nobody (uid 65534)" : "ran check on a read-only ledger file");
});

test("check fails on a ledger whose pages are corrupt (PRAGMA quick_check), and leaves it untouched", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "state", "corrupt-pages.db");
  assert.equal((await shop.run(["init"], { env: { PAIDUP_DB: file } })).code, 0);
  const bytes = fs.readFileSync(file);
  // Page 1 (the schema) stays intact, so the ledger opens; a table's page is garbage.
  const pageSize = bytes.readUInt16BE(16);
  bytes.fill(0xa5, pageSize * 2 + 8, pageSize * 3);
  fs.writeFileSync(file, bytes);
  const r = await shop.run(["check"], { env: { PAIDUP_DB: file } });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /^✗ ledger: .*corrupt-pages\.db is corrupt \(PRAGMA quick_check: .+\); stop paidup and restore the ledger from a backup$/m);
  assert.deepEqual(fs.readFileSync(file), bytes, "check changed nothing");
});
