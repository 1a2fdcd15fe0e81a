import crypto from "node:crypto";
import { UsageError } from "../errors";
import type { Sql } from "./sql";

// `paidup move-ledger`: a SQLite ledger copied into an empty PostgreSQL ledger, table by table.
// Generic over tables: every table of the SQLite file is copied (so tables added later, by any
// feature, come along without code here); LEDGER_TABLE_ORDER only puts parents before the
// tables whose foreign keys point at them. The copy is verified (row count and a checksum per
// table, read back inside the same PostgreSQL transaction) before it commits: a copy that
// differs is never left behind, and the SQLite file is only read.

/** Tables copied first, in this order (foreign keys point at `charges`); any other table follows. */
export const LEDGER_TABLE_ORDER: readonly string[] = ["meta", "charges", "deliveries", "attempts", "events", "email_events", "email_checks", "alerts", "alert_sends", "license_keys"];

export interface TableCopy {
  table: string;
  rows: number;
  checksum: string;
}

const BATCH_PARAMS = 30_000; // well under PostgreSQL's 65,535 parameters per statement

async function sqliteTables(src: Sql): Promise<string[]> {
  const rows = await src.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  const names = rows.map((r) => r.name);
  const known = LEDGER_TABLE_ORDER.filter((t) => names.includes(t));
  return [...known, ...names.filter((n) => !known.includes(n))];
}

async function sqliteColumns(src: Sql, table: string): Promise<string[]> {
  return (await src.query<{ name: string }>(`SELECT name FROM pragma_table_info('${table}') ORDER BY cid`)).map((r) => r.name);
}

async function pgColumns(dst: Sql, table: string): Promise<string[]> {
  const rows = await dst.query<{ c: string }>("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position", [table]);
  return rows.map((r) => r.c);
}

/** The same value read from either database hashes the same (int8 and booleans as numbers, bytes as hex). */
function canonical(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (Buffer.isBuffer(v)) return `\\x${v.toString("hex")}`;
  if (v instanceof Date) return v.getTime();
  return v;
}

/** Order-independent: the sorted hashes of the rows, hashed (a table need not have a key). */
class TableDigest {
  private readonly rows: string[] = [];
  add(row: Record<string, unknown>, columns: readonly string[]): void {
    this.rows.push(crypto.createHash("sha256").update(JSON.stringify(columns.map((c) => canonical(row[c])))).digest("hex"));
  }
  get count(): number {
    return this.rows.length;
  }
  digest(): string {
    return crypto.createHash("sha256").update(this.rows.sort().join("\n")).digest("hex");
  }
}

/** Refuses a target that holds anything: move-ledger never merges into, or overwrites, a ledger. */
export async function assertEmptyTarget(dst: Sql, where: string): Promise<void> {
  const tables = await dst.query<{ t: string }>(
    "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'paidup_schema'",
  );
  for (const { t } of tables) {
    const row = await dst.one<{ n: number }>(`SELECT count(*) AS n FROM "${t}"`);
    if (Number(row?.n ?? 0) > 0) {
      throw new UsageError(`the target ledger ${where} is not empty (table ${t} has rows); nothing was copied`, "move-ledger only copies into a new, empty database");
    }
  }
}

async function copyTable(src: Sql, dst: Sql, table: string): Promise<TableDigest> {
  const columns = await sqliteColumns(src, table);
  const target = await pgColumns(dst, table);
  const missing = columns.filter((c) => !target.includes(c));
  if (target.length === 0 || missing.length > 0) {
    throw new UsageError(`the target ledger has no ${target.length === 0 ? `table ${table}` : `column(s) ${missing.join(", ")} in ${table}`}; nothing was copied`, "use the same paidup version on both sides");
  }
  const digest = new TableDigest();
  const batch = Math.max(1, Math.floor(BATCH_PARAMS / columns.length));
  const list = columns.map((c) => `"${c}"`).join(", ");
  let after = -Infinity;
  for (;;) {
    // rowid pages: every SQLite table has one, whether or not it has a key of its own.
    const rows = await src.query<Record<string, unknown>>(`SELECT rowid AS paidup_rowid, * FROM "${table}" WHERE rowid > ? ORDER BY rowid LIMIT ${batch}`, [after === -Infinity ? -1 : after]);
    if (rows.length === 0) break;
    const values: unknown[] = [];
    const tuples = rows.map((row) => {
      digest.add(row, columns);
      values.push(...columns.map((c) => canonicalForInsert(row[c])));
      return `(${columns.map(() => "?").join(", ")})`;
    });
    await dst.exec(`INSERT INTO "${table}" (${list}) VALUES ${tuples.join(", ")}`, values);
    after = Number(rows[rows.length - 1]?.paidup_rowid);
  }
  // A serial column (attempts.id) continues after the copied ids, not from 1.
  const serials = await dst.query<{ c: string }>(
    "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_default LIKE 'nextval(%'",
    [table],
  );
  for (const { c } of serials) {
    await dst.one(`SELECT setval(pg_get_serial_sequence('"${table}"', '${c}'), coalesce((SELECT max("${c}") FROM "${table}"), 0) + 1, false)`);
  }
  return digest;
}

function canonicalForInsert(v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

async function targetDigest(dst: Sql, table: string, columns: readonly string[]): Promise<TableDigest> {
  const digest = new TableDigest();
  // A cursor, so a 100k-row history is read back in pages, not held in memory at once.
  await dst.exec(`DECLARE paidup_verify NO SCROLL CURSOR FOR SELECT ${columns.map((c) => `"${c}"`).join(", ")} FROM "${table}"`);
  for (;;) {
    const rows = await dst.query<Record<string, unknown>>("FETCH 2000 FROM paidup_verify");
    if (rows.length === 0) break;
    for (const row of rows) digest.add(row, columns);
  }
  await dst.exec("CLOSE paidup_verify");
  return digest;
}

/**
 * Copies every table of `src` (SQLite, inside its transaction) into `dst` (PostgreSQL, inside
 * its transaction), then reads each table back and compares counts and checksums. Throws on
 * any difference, so the caller's transaction rolls the copy back.
 */
export async function copyLedger(src: Sql, dst: Sql, where: string): Promise<TableCopy[]> {
  await assertEmptyTarget(dst, where);
  const report: TableCopy[] = [];
  for (const table of await sqliteTables(src)) {
    const source = await copyTable(src, dst, table);
    const copied = await targetDigest(dst, table, await sqliteColumns(src, table));
    if (copied.count !== source.count || copied.digest() !== source.digest()) {
      throw new Error(`verification failed for table ${table}: ${source.count} rows in SQLite, ${copied.count} in PostgreSQL${copied.count === source.count ? " with different contents" : ""}; nothing was committed`);
    }
    report.push({ table, rows: source.count, checksum: source.digest() });
  }
  return report;
}
