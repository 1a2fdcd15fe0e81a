import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { paidCharge, Shop, SQLITE_ONLY } from "./helpers/shop";

// A ledger paidup must not trust: it says why, exits 2 or 3, and leaves the file's bytes alone.

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 10 }));
});
after(async () => shop.close());

const hash = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

async function reconcileOn(file: string) {
  const before = hash(file);
  const r = await shop.run(["reconcile", "--json"], { env: { PAIDUP_DB: file } });
  assert.equal(hash(file), before, "the file's bytes are unchanged");
  assert.equal(shop.resend.sent.length, 0, "nothing was sent");
  return r;
}

test("a SQLite file that is not a paidup ledger is refused with exit 2 and left untouched", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "stranger.db");
  const db = new Database(file);
  db.exec("CREATE TABLE charges (id TEXT PRIMARY KEY); INSERT INTO charges VALUES ('x')");
  db.close();
  const r = await reconcileOn(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /stranger\.db is not a paidup ledger/);
});

test("a ledger from a newer paidup (higher user_version) is refused with exit 2 and left untouched", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "newer.db");
  assert.equal((await shop.run(["init"], { env: { PAIDUP_DB: file } })).code, 0);
  const db = new Database(file);
  db.pragma("user_version = 999");
  db.close();
  const r = await reconcileOn(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /has schema version 999, newer than this paidup/);
});

test("a file of corrupt bytes is refused with exit 3 and left untouched", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "corrupt.db");
  fs.writeFileSync(file, crypto.randomBytes(64 * 1024));
  const r = await reconcileOn(file);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /corrupt.db is corrupt or not a database/);
});

test("a real ledger with its pages overwritten by garbage is refused with exit 3 and left untouched", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "garbled.db");
  assert.equal((await shop.run(["init"], { env: { PAIDUP_DB: file } })).code, 0);
  const bytes = fs.readFileSync(file);
  crypto.randomBytes(bytes.length - 4096).copy(bytes, 4096); // keep the header page, garble the rest
  fs.writeFileSync(file, bytes);
  const r = await reconcileOn(file);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /is corrupt or not a database/);
  assert.doesNotMatch(r.stderr, /unexpected failure/);
});

test("status and show on a ledger with corrupt pages exit 3 with a reason, not a stack trace", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "corrupt-pages.db");
  assert.equal((await shop.run(["init"], { env: { PAIDUP_DB: file } })).code, 0);
  const bytes = fs.readFileSync(file);
  const pageSize = bytes.readUInt16BE(16);
  // The schema page stays intact, so the ledger opens; the tables' pages are garbage.
  bytes.fill(0xa5, pageSize + 8, bytes.length);
  fs.writeFileSync(file, bytes);
  for (const args of [["status", "--offline"], ["status", "--json"], ["show", "ch_any"]]) {
    const r = await shop.run(args, { env: { PAIDUP_DB: file } });
    assert.equal(r.code, 3, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /corrupt-pages\.db is corrupt or not a database/, args.join(" "));
    assert.match(r.stderr, /restore it from a backup/);
  }
  assert.deepEqual(fs.readFileSync(file), bytes, "left untouched");
});

test("a disk that fills up in the middle of a pass is exit 3 with a reason, not a stack trace, and the next pass finishes the job", { skip: SQLITE_ONLY }, async () => {
  const file = path.join(shop.dir, "filling.db");
  assert.equal((await shop.run(["init", "--since", "1h"], { env: { PAIDUP_DB: file } })).code, 0);
  const charges = Array.from({ length: 30 }, (_, i) =>
    shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 60 + i, billing_details: { email: `full${i}@example.com` } })));
  // The ledger's write-ahead log may not grow past 64 KiB: a few charges in, a commit meets a full disk.
  const full = await shop.run(["reconcile"], { env: { PAIDUP_DB: file }, fileSizeLimitBlocks: 128 });
  assert.equal(full.code, 3, full.stderr);
  assert.match(full.stderr, /paidup: ledger .*filling\.db: the disk (is full|refused a read or write \(SQLITE_IOERR\w*\); it may be full)/);
  assert.match(full.stderr, /hint: free some space/);
  const after = await shop.run(["reconcile"], { env: { PAIDUP_DB: file } });
  assert.equal(after.code, 0, after.stderr);
  const sends = shop.resend.sendsByKey();
  for (const c of charges) assert.equal(sends.get(`paidup-${c.id}`), 1, `${c.id} was emailed exactly once`);
});
