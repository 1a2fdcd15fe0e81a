import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createLedger } from "../src/ledger";
import { MIGRATIONS } from "../src/ledger/sqlite/migrations";
import { SCHEMA_VERSION } from "../src/ledger/sqlite/schema-version";
import { PG_MIGRATIONS } from "../src/ledger/postgres/migrations";
import { cluster, freshDatabase, postgresAvailable, psql, queryRows } from "./helpers/postgres";

// The two backends must hold the same ledger: a table or column added to one migration list
// and not the other fails here (and move-ledger would refuse to copy it).

test("a fresh SQLite ledger and a fresh PostgreSQL ledger have the same tables and columns", { skip: postgresAvailable() ? false : "PostgreSQL is not installed" }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-schema-"));
  try {
    const dbPath = path.join(dir, "l.db");
    await (await createLedger({ dbPath })).ledger.close();
    const { url, name } = await freshDatabase();
    await (await createLedger({ dbPath, databaseUrl: url })).ledger.close();

    const db = new Database(dbPath, { readonly: true });
    const sqlite: Record<string, string[]> = {};
    for (const { name: t } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]) {
      sqlite[t] = (db.prepare(`SELECT name FROM pragma_table_info('${t}')`).all() as { name: string }[]).map((c) => c.name).sort();
    }
    db.close();
    const pg: Record<string, string[]> = {};
    for (const r of queryRows<{ tbl: string; col: string }>(name, "SELECT table_name AS tbl, column_name AS col FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'paidup_schema' ORDER BY table_name, column_name")) {
      (pg[r.tbl] ??= []).push(r.col);
    }
    for (const cols of Object.values(pg)) cols.sort();
    assert.deepEqual(pg, sqlite);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The buyers' page looks an address up for anyone who POSTs one: without an index that is a
// full scan of charges on every request (~18 ms of SQLite's event loop at 100k charges).
const BUYER_LOOKUP = "SELECT id, product, name, email FROM charges WHERE lower(email) = 'a@example.com' AND state IN ('delivered', 'resolved') ORDER BY created";

test("the buyers' page lookup by lower(email) uses an index in SQLite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-schema-"));
  try {
    const dbPath = path.join(dir, "l.db");
    await (await createLedger({ dbPath })).ledger.close();
    const db = new Database(dbPath, { readonly: true });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${BUYER_LOOKUP}`).all() as { detail: string }[]).map((r) => r.detail).join("; ");
    db.close();
    assert.match(plan, /USING INDEX charges_by_email/, plan);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the buyers' page lookup by lower(email) uses an index in PostgreSQL", { skip: postgresAvailable() ? false : "PostgreSQL is not installed" }, async () => {
  const { url, name } = await freshDatabase();
  await (await createLedger({ dbPath: "unused.db", databaseUrl: url })).ledger.close();
  // An empty table is scanned whatever its indexes: forbid that to see whether one fits.
  const plan = psql(await cluster(), `SET enable_seqscan = off; EXPLAIN ${BUYER_LOOKUP}`, name);
  assert.match(plan, /charges_by_email/, plan);
});

test("SCHEMA_VERSION counts the SQLite migrations, and both backends have the same number of them", () => {
  // Opening an up-to-date ledger reads the number, not the migrations: a migration appended
  // without raising it would never run.
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
  assert.equal(PG_MIGRATIONS.length, MIGRATIONS.length);
});
