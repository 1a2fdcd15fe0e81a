import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { Shop, SQLITE_ONLY } from "./helpers/shop";

let shop: Shop;
before(async () => (shop = await Shop.start()));
after(async () => shop.close());

test("init creates a private state folder and ledger and prints the start line", { skip: SQLITE_ONLY }, async () => {
  const r = await shop.run(["init"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ledger created at .*paidup\.db/);
  assert.match(r.stdout, /start line: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z/);
  assert.equal(fs.statSync(path.dirname(shop.dbPath)).mode & 0o777, 0o700);
  assert.equal(fs.statSync(shop.dbPath).mode & 0o777, 0o600);
});

test("init on an existing ledger changes nothing and prints the start line", { skip: SQLITE_ONLY }, async () => {
  const before = fs.readFileSync(shop.dbPath);
  const r = await shop.run(["init"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /nothing changed/);
  assert.deepEqual(fs.readFileSync(shop.dbPath).length, before.length);
});

test("init --since moves the start line earlier but never later", async () => {
  await shop.run(["init"]); // the ledger the earlier tests made (they are skipped on postgres)
  const later = await shop.run(["init", "--since", "0s"]);
  assert.equal(later.code, 0);
  assert.match(later.stdout, /never moves later/);
  const earlier = await shop.run(["init", "--since", "7d"]);
  assert.equal(earlier.code, 0, earlier.stderr);
  assert.match(earlier.stdout, /start line moved earlier/);
});

test("init --since with a bad value is a usage error", async () => {
  const r = await shop.run(["init", "--since", "last tuesday"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--since/);
});

test("a file that is not a paidup ledger is refused and left untouched", { skip: SQLITE_ONLY }, async () => {
  const stranger = path.join(shop.dir, "stranger.db");
  fs.writeFileSync(stranger, "this is not sqlite at all, just some bytes".repeat(200));
  const bytes = fs.readFileSync(stranger);
  const r = await shop.run(["reconcile"], { env: { PAIDUP_DB: stranger } });
  assert.ok(r.code === 2 || r.code === 3, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stderr, /not a (paidup ledger|database)|corrupt/);
  assert.deepEqual(fs.readFileSync(stranger), bytes);
});

test("init makes an empty state folder that already existed private (0700), as a clone's state/ at 0755 was not", { skip: SQLITE_ONLY }, async () => {
  const stateDir = path.join(shop.dir, "existing-state");
  fs.mkdirSync(stateDir, { mode: 0o755 });
  fs.chmodSync(stateDir, 0o755);
  const r = await shop.run(["init"], { env: { PAIDUP_DB: path.join(stateDir, "paidup.db") } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.statSync(stateDir).mode & 0o777, 0o700);
});

test("init leaves the mode of a folder that holds other files alone", { skip: SQLITE_ONLY }, async () => {
  const shared = path.join(shop.dir, "shared");
  fs.mkdirSync(shared, { mode: 0o755 });
  fs.chmodSync(shared, 0o755);
  fs.writeFileSync(path.join(shared, "notes.txt"), "someone else's\n");
  const r = await shop.run(["init"], { env: { PAIDUP_DB: path.join(shared, "paidup.db") } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.statSync(shared).mode & 0o777, 0o755);
});

test("init without STRIPE_SECRET_KEY is exit 2 and creates nothing", async () => {
  const file = path.join(shop.dir, "nokey", "paidup.db");
  const r = await shop.run(["init"], { env: { STRIPE_SECRET_KEY: undefined, PAIDUP_DB: file } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /STRIPE_SECRET_KEY is not set/);
  assert.equal(fs.existsSync(path.dirname(file)), false, "not even the folder");
});

test("init with a PAIDUP_DB it cannot create is exit 2 with the path and the reason, and leaves nothing behind", { skip: SQLITE_ONLY }, async () => {
  const blocker = path.join(shop.dir, "a-file");
  fs.writeFileSync(blocker, "not a folder");
  const r = await shop.run(["init"], { env: { PAIDUP_DB: path.join(blocker, "state", "paidup.db") } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /paidup: cannot create the ledger at .*a-file\/state\/paidup\.db \((ENOTDIR|EEXIST)/);
  assert.match(r.stderr, /hint: set PAIDUP_DB to a path the user running paidup may write/);
  assert.equal(fs.readFileSync(blocker, "utf8"), "not a folder");
});

test("a start line more than a year back needs --yes, and says how many paid charges it takes in", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "backlog.db");
  const longAgo = Math.floor(Date.now() / 1000) - 400 * 86_400;
  for (let i = 0; i < 3; i++) shop.stripe.addCharge({ amount: 500, currency: "usd", created: longAgo + i, billing_details: { email: `old${i}@example.com` } });
  shop.stripe.addCharge({ amount: 500, currency: "usd", created: longAgo + 10, status: "failed", paid: false, captured: false });
  const refused = await shop.run(["init", "--since", "100000d"], { env: { PAIDUP_DB: file } });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--since 17\d\d-.* is more than a year back: it takes in 3 paid charge\(s\) created since then/);
  assert.match(refused.stderr, /hint: run the same command with --yes if you mean it; nothing was created or changed/);
  assert.equal(fs.existsSync(file), false, "no ledger was created");

  const created = await shop.run(["init", "--since", "30d"], { env: { PAIDUP_DB: file } });
  assert.equal(created.code, 0, created.stderr);
  const bytes = fs.readFileSync(file);
  const earlier = await shop.run(["init", "--since", "1970-01-01"], { env: { PAIDUP_DB: file } });
  assert.equal(earlier.code, 2, "moving an existing start line more than a year back needs --yes too");
  assert.match(earlier.stderr, /--since 1970-01-01T00:00:00Z is more than a year back: it takes in 3 paid charge/);
  assert.deepEqual(fs.readFileSync(file), bytes, "the ledger is unchanged");

  const confirmed = await shop.run(["init", "--since", "1970-01-01", "--yes"], { env: { PAIDUP_DB: file } });
  assert.equal(confirmed.code, 0, confirmed.stderr);
  assert.match(confirmed.stdout, /start line moved earlier: .* → 1970-01-01T00:00:00Z/);
  assert.match(confirmed.stdout, /takes in 3 paid charge\(s\) created since then.*\(confirmed with --yes\)/);
});
