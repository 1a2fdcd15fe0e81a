import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../src/ledger/sqlite/migrations";
import { SCHEMA_VERSION } from "../src/ledger/sqlite/schema-version";
import { APPLICATION_ID } from "../src/ledger/sqlite/open";
import { RunResult, Shop, SQLITE_ONLY } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

// After an upgrade, two processes (a cron pass and a manual command) may open the old ledger at
// the same moment. Each must read the schema version under the write lock: otherwise both read
// the old version, and the second runs a migration the first has already applied.

let shop: Shop;
before(async () => (shop = await Shop.start()));
after(async () => shop.close());

/** A ledger as the previous schema version left it, with a start line. */
function oldLedger(): void {
  fs.mkdirSync(shop.dbPath.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o700 });
  const db = new Database(shop.dbPath);
  db.pragma("journal_mode = WAL");
  db.pragma(`application_id = ${APPLICATION_ID}`);
  for (let v = 0; v < SCHEMA_VERSION - 1; v++) db.exec(MIGRATIONS[v] as string);
  db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
  const now = Math.floor(Date.now() / 1000);
  if (SCHEMA_VERSION > 1) {
    for (const [k, v] of [["start_line", now - 3600], ["watermark", now - 3600], ["mode", "test"]]) db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)").run(k, String(v));
  }
  db.close();
}

/** True while the process's main thread sleeps in a syscall of the nanosleep family: SQLite's busy wait. */
function inBusyWait(pid: number): boolean {
  try {
    const nr = Number(fs.readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ")[0]);
    return nr === 35 || nr === 230; // x86-64 nanosleep, clock_nanosleep
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms = PATIENCE_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("two processes opening a ledger of the previous schema at once both succeed, and the migration runs once", { skip: SQLITE_ONLY || process.arch !== "x64" || process.platform !== "linux" }, async () => {
  oldLedger();
  // Hold the write lock, so both processes reach the migration before either may run it.
  const holder = new Database(shop.dbPath);
  holder.pragma("busy_timeout = 5000");
  holder.prepare("BEGIN IMMEDIATE").run();
  const pids: number[] = [];
  const runs: Promise<RunResult>[] = [0, 1].map(() => shop.run(["reconcile"], { onSpawn: (pid) => pids.push(pid) }));
  try {
    await until(() => pids.length === 2 && pids.every(inBusyWait));
  } finally {
    holder.prepare("ROLLBACK").run();
    holder.close();
  }
  const results = await Promise.all(runs);
  for (const r of results) {
    assert.doesNotMatch(r.stderr, /already exists|duplicate column/);
    assert.equal(r.code, 0, r.stderr);
  }
  const db = new Database(shop.dbPath, { readonly: true });
  try {
    assert.equal(db.pragma("user_version", { simple: true }), SCHEMA_VERSION);
  } finally {
    db.close();
  }
});
