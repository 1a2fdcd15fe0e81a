import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { cluster, databaseUrl, freshDatabase, postgresAvailable, psql, queryRows, TEST_PASSWORD } from "./helpers/postgres";
import { createLedger } from "../src/ledger";
import { PG_MIGRATIONS } from "../src/ledger/postgres/migrations";
import { paidCharge, Shop } from "./helpers/shop";

// What only PostgreSQL has: a URL with a password that must never be shown, a server that can
// be down or refuse a login, roles without write access, and several processes (hosts) that
// start at once against one database.

const skip = postgresAvailable() ? false : "PostgreSQL is not installed";
let shop: Shop;
before(async () => {
  if (skip) return;
  shop = await Shop.start({ backend: "postgres" });
});
after(async () => shop?.close());

const noPassword = (r: { stdout: string; stderr: string }, ...passwords: string[]) => {
  for (const p of [TEST_PASSWORD, ...passwords]) assert.ok(!(r.stdout + r.stderr).includes(p), `output shows a password:\n${r.stdout}\n${r.stderr}`);
};

test("init on PostgreSQL creates the ledger and names the database without its password", { skip }, async () => {
  const r = await shop.run(["init"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ledger created at postgres:\/\/paidup_test@127\.0\.0\.1:\d+\/paidup_\w+$/m);
  noPassword(r);
  const again = await shop.run(["init"]);
  assert.match(again.stdout, /nothing changed/);
});

test("check on PostgreSQL reports the database reachable, its schema version and write access", { skip }, async () => {
  await shop.run(["init"]);
  const r = await shop.run(["check"]);
  assert.match(r.stdout, /^✓ ledger: postgres:\/\/paidup_test@127\.0\.0\.1:\d+\/paidup_\w+, schema version \d+, writable by .*, intact$/m);
  noPassword(r);
});

test("four processes starting at once on an empty database migrate it once, one after the other", { skip }, async () => {
  const { url, name } = await freshDatabase();
  const runs = await Promise.all(Array.from({ length: 4 }, () => shop.run(["init"], { env: { PAIDUP_DATABASE_URL: url } })));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  assert.equal(runs.filter((r) => /ledger created/.test(r.stdout)).length, 1);
  assert.deepEqual(queryRows<{ version: number }>(name, "SELECT version FROM paidup_schema ORDER BY version").map((r) => r.version), PG_MIGRATIONS.map((_, i) => i + 1));
});

test("eight connections migrating one empty database at the same moment apply each migration once", { skip }, async () => {
  const { url, name } = await freshDatabase();
  const opened = await Promise.all(Array.from({ length: 8 }, () => createLedger({ dbPath: "/nonexistent", databaseUrl: url })));
  await Promise.all(opened.map((o) => o.ledger.close()));
  assert.equal(opened.filter((o) => o.created).length >= 1, true);
  assert.deepEqual(queryRows<{ version: number }>(name, "SELECT version FROM paidup_schema ORDER BY version").map((r) => r.version), PG_MIGRATIONS.map((_, i) => i + 1));
});

test("a wrong password is exit 2 with a message that shows neither password", { skip }, async () => {
  const c = await cluster();
  const wrong = "Wr0ng-pass-also-secret";
  const url = databaseUrl(c, shop.databaseUrl?.split("/").pop() as string, wrong);
  const r = await shop.run(["reconcile"], { env: { PAIDUP_DATABASE_URL: url } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /PostgreSQL refused the login to postgres:\/\/paidup_test@127\.0\.0\.1/);
  noPassword(r, wrong);
  const check = await shop.run(["check"], { env: { PAIDUP_DATABASE_URL: url } });
  assert.equal(check.code, 2);
  assert.match(check.stdout, /^✗ ledger: PostgreSQL refused the login/m);
  noPassword(check, wrong);
});

test("a server that is down is exit 3 for a pass and a failed check, naming the host but not the password", { skip }, async () => {
  const url = `postgres://paidup_test:${TEST_PASSWORD}@127.0.0.1:1/paidup`;
  const r = await shop.run(["reconcile"], { env: { PAIDUP_DATABASE_URL: url } });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /cannot reach the ledger database postgres:\/\/paidup_test@127\.0\.0\.1:1\/paidup/);
  const check = await shop.run(["check"], { env: { PAIDUP_DATABASE_URL: url } });
  assert.match(check.stdout, /^✗ ledger: cannot reach the ledger database/m);
  noPassword(r);
  noPassword(check);
});

test("a database without a ledger is exit 2 until `paidup init`, and a URL that is not postgres:// is exit 2", { skip }, async () => {
  const { url } = await freshDatabase();
  const r = await shop.run(["status", "--offline"], { env: { PAIDUP_DATABASE_URL: url } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no paidup ledger in postgres:\/\/.*\n {2}hint: run `paidup init` first/);
  const bad = await shop.run(["status", "--offline"], { env: { PAIDUP_DATABASE_URL: "mysql://u:p4ssw0rd-x@h/db" } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /PAIDUP_DATABASE_URL must start with postgres:\/\//);
  noPassword(bad, "p4ssw0rd-x");
});

test("check fails for a role that may read the ledger but not write it", { skip }, async () => {
  await shop.run(["init"]);
  const c = await cluster();
  const name = shop.databaseUrl?.split("/").pop() as string;
  const role = `ro_${name}`;
  psql(c, `CREATE ROLE ${role} LOGIN PASSWORD 'ro-Secret-pw'`);
  psql(c, `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`, name);
  const url = `postgres://${role}:ro-Secret-pw@127.0.0.1:${c.port}/${name}`;
  const r = await shop.run(["check"], { env: { PAIDUP_DATABASE_URL: url } });
  assert.equal(r.code, 2);
  assert.match(r.stdout, /^✗ ledger: ledger postgres:\/\/ro_\w+@127\.0\.0\.1:\d+\/\w+ cannot be written/m);
  noPassword(r, "ro-Secret-pw");
});

test("status opens the ledger read-only: the server refuses any write it might attempt", { skip }, async () => {
  await shop.run(["init"]);
  shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 30 }));
  await shop.run(["reconcile"]);
  const before = shop.contentDigest();
  const r = await shop.run(["status", "--json"]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.equal(shop.contentDigest(), before);
});
