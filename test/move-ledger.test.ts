import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { after, before, test } from "node:test";
import { freshDatabase, queryRows } from "./helpers/postgres";
import { BACKEND, paidCharge, Shop } from "./helpers/shop";

// `paidup move-ledger --to <url>`: a SQLite ledger with history copied into an empty PostgreSQL
// ledger, every table, verified; the SQLite file untouched; paidup carries on from the copy.

const skip = BACKEND === "postgres" ? false : "needs PostgreSQL (npm test runs it in the postgres pass)";
let shop: Shop;
before(async () => {
  if (skip) return;
  shop = await Shop.start({ backend: "sqlite", config: { retry: { maxAttempts: 5, delays: ["1s"] } } });
});
after(async () => shop?.close());

const fileHash = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(f)).digest("hex");
const tablesOf = () => shop.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").map((r) => r.name);
const sorted = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]))).sort();

test("move-ledger copies every table into an empty PostgreSQL ledger, verified, and paidup carries on from it", { skip }, async () => {
  const start = Math.floor(Date.now() / 1000) - 600;
  for (let i = 0; i < 5; i++) shop.stripe.addCharge(paidCharge({ id: `ch_move_${i}`, created: start + i, billing_details: { email: `m${i}@example.com`, name: "M" } }));
  shop.stripe.addCharge(paidCharge({ id: "ch_move_noproduct", created: start + 10, metadata: {} }));
  assert.equal((await shop.run(["init", "--since", new Date(start * 1000).toISOString()])).code, 0);
  // One send fails first, so a charge has two attempts; then a pass delivers the rest.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: 1 });
  await shop.run(["reconcile"]);
  await new Promise((r) => setTimeout(r, 1100));
  await shop.run(["reconcile"]);
  assert.equal(shop.rows().filter((r) => r.state === "delivered").length, 5);
  shop.exec("INSERT INTO events (id, type, object_id, received_at, handled_at) VALUES ('evt_move_1', 'charge.succeeded', 'ch_move_0', 1, 2)");
  const before = fileHash(shop.dbPath);
  const sendsBefore = shop.resend.sent.length;

  const { url, name } = await freshDatabase();
  const r = await shop.run(["move-ledger", "--to", url]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /copied and verified \d+ table\(s\)/);
  assert.equal(fileHash(shop.dbPath), before, "the SQLite ledger is only read");

  // Every table of the SQLite ledger, whichever feature added it, is in PostgreSQL row for row.
  const tables = tablesOf();
  for (const t of ["meta", "charges", "attempts", "events"]) assert.ok(tables.includes(t));
  for (const t of tables) {
    assert.match(r.stdout, new RegExp(`^ {2}${t} +\\d+ row\\(s\\) +sha256 [0-9a-f]{16} +verified$`, "m"), `${t} is listed as verified`);
    assert.deepEqual(sorted(queryRows(name, `SELECT * FROM ${t}`)), sorted(shop.query(`SELECT * FROM ${t}`)), `table ${t}`);
  }
  assert.ok(shop.query<{ n: number }>("SELECT count(*) AS n FROM attempts")[0]!.n >= 6, "attempts came along: five deliveries and a failed send");

  // The same answers from the copy, and passes carry on from it without sending anything twice.
  const pg = { env: { PAIDUP_DATABASE_URL: url } };
  const onSqlite = await shop.run(["status", "--json", "--offline"]);
  const onPg = await shop.run(["status", "--json", "--offline"], pg);
  assert.deepEqual(JSON.parse(onPg.stdout).stuck, JSON.parse(onSqlite.stdout).stuck);
  assert.equal((await shop.run(["show", "ch_move_0", "--json"], pg)).stdout, (await shop.run(["show", "ch_move_0", "--json"])).stdout);
  shop.stripe.addCharge(paidCharge({ id: "ch_move_after", created: Math.floor(Date.now() / 1000) - 5, billing_details: { email: "after@example.com" } }));
  const next = await shop.run(["reconcile", "--json"], pg);
  assert.equal(JSON.parse(next.stdout).delivered, 1, next.stderr);
  assert.equal(shop.resend.sent.length, sendsBefore + 1, "only the new charge was sent");
  assert.equal(queryRows<{ state: string }>(name, "SELECT state FROM charges WHERE id = 'ch_move_after'")[0]?.state, "delivered");
});

test("move-ledger refuses a target that is not empty with exit 2 and copies nothing", { skip }, async () => {
  await shop.run(["init"]);
  const { url, name } = await freshDatabase();
  assert.equal((await shop.run(["move-ledger", "--to", url])).code, 0);
  const counts = () => queryRows<{ n: number }>(name, "SELECT (SELECT count(*) FROM charges) + (SELECT count(*) FROM attempts) + (SELECT count(*) FROM meta) AS n")[0]?.n;
  const before = counts();
  const again = await shop.run(["move-ledger", "--to", url]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /is not empty \(table \w+ has rows\); nothing was copied/);
  assert.equal(counts(), before);
});

test("move-ledger without --to, or with a URL that is not postgres://, is exit 2", { skip }, async () => {
  assert.equal((await shop.run(["move-ledger"])).code, 2);
  const r = await shop.run(["move-ledger", "--to", "mysql://x:y@h/db"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /must start with postgres:\/\//);
});
