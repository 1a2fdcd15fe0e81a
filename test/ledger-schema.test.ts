import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createLedger } from "../src/ledger";
import { freshDatabase, postgresAvailable, queryRows } from "./helpers/postgres";

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
