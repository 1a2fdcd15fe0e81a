import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createLedger, DOWNLOAD_LOG_KEEP, Ledger } from "../src/ledger";
import { PG_MIGRATIONS } from "../src/ledger/postgres/migrations";
import { MIGRATIONS } from "../src/ledger/sqlite/migrations";
import { APPLICATION_ID } from "../src/ledger/sqlite/open";
import { cluster, freshDatabase, postgresAvailable, psql, TEST_ROLE } from "./helpers/postgres";

// Migration 9 on a ledger that already has a long download log: each link keeps its newest
// 1,000 requests, numbered in order, and the next request logged pushes out the oldest. Links
// made before it get expires_after_ms from their own dates.

const V5 = 5;
const LINK = { charge: "ch_old", product: "course", file: 0, issue: 0 };
const linkRow = `INSERT INTO download_links (charge_id, product, file_index, issue, source, file_name, file_path, created_at, expires_at, max_downloads, downloads)
  VALUES ('ch_old', 'course', 0, 0, 'send', 'a.bin', '/x/a.bin', 1000, 605001000, 5, 2),
         ('ch_old', 'course', 1, 0, 'send', 'b.pdf', '/x/b.pdf', 1000, 605001000, 5, 0)`;
/** 1,200 requests through the first file (at 1..1200, a tie at 600) and 3 through the second. */
function requestRows(): string {
  const rows: string[] = [];
  for (let i = 1; i <= 1200; i++) rows.push(`('ch_old', 'course', 0, 0, ${i === 601 ? 600 : i}, '203.0.113.1', 'ua${i}', 'GET', NULL, 200, 10, 0)`);
  for (let i = 1; i <= 3; i++) rows.push(`('ch_old', 'course', 1, 0, ${i}, '203.0.113.1', 'pdf${i}', 'GET', NULL, 200, 10, 0)`);
  return `INSERT INTO download_requests (charge_id, product, file_index, issue, at, ip, user_agent, method, range_header, status, bytes, counted) VALUES ${rows.join(", ")}`;
}

async function checkMigrated(ledger: Ledger): Promise<void> {
  const rows = await ledger.downloadRequests("ch_old");
  const a = rows.filter((r) => r.file_name === "a.bin");
  assert.equal(a.length, DOWNLOAD_LOG_KEEP);
  assert.equal(a[0]?.user_agent, "ua201", "the oldest 200 went");
  assert.equal(a.at(-1)?.user_agent, "ua1200");
  assert.deepEqual(rows.filter((r) => r.file_name === "b.pdf").map((r) => r.user_agent), ["pdf1", "pdf2", "pdf3"]);
  const [link] = await ledger.renderedLinks("ch_old", "course", "send");
  assert.equal(link?.expires_after_ms, 605_000_000);
  assert.equal(link?.requests_logged, 1200);
  assert.equal(link?.downloads, 2);
  await ledger.logDownloadRequest({ link: LINK, at: 5000, ip: "203.0.113.1", userAgent: "new", method: "HEAD", range: null, status: 200, bytes: 0, counted: false });
  const after = (await ledger.downloadRequests("ch_old")).filter((r) => r.file_name === "a.bin");
  assert.equal(after.length, DOWNLOAD_LOG_KEEP);
  assert.equal(after[0]?.user_agent, "ua202");
  assert.equal(after.at(-1)?.user_agent, "new");
}

test("migration 9 on SQLite keeps each link's newest 1,000 requests, and the next request pushes out the oldest", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-migr6-"));
  try {
    const dbPath = path.join(dir, "l.db");
    const db = new Database(dbPath);
    db.pragma("journal_mode = WAL");
    db.pragma(`application_id = ${APPLICATION_ID}`);
    for (let v = 0; v < V5; v++) db.exec(MIGRATIONS[v] as string);
    db.pragma(`user_version = ${V5}`);
    db.exec(linkRow);
    db.exec(requestRows());
    db.close();
    const { ledger } = await createLedger({ dbPath });
    try {
      await checkMigrated(ledger);
    } finally {
      await ledger.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("migration 9 on PostgreSQL does the same", { skip: postgresAvailable() ? false : "PostgreSQL is not installed" }, async () => {
  const { url, name } = await freshDatabase();
  const c = await cluster();
  const asRole = (sql: string) => psql(c, `SET ROLE ${TEST_ROLE}; ${sql}`, name);
  asRole("CREATE TABLE paidup_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
  for (let v = 0; v < V5; v++) asRole(`${PG_MIGRATIONS[v] as string}; INSERT INTO paidup_schema VALUES (${v + 1}, 0)`);
  asRole(linkRow);
  asRole(requestRows());
  const { ledger } = await createLedger({ dbPath: "unused.db", databaseUrl: url });
  try {
    await checkMigrated(ledger);
  } finally {
    await ledger.close();
  }
});
