import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { RuntimeFailure, UsageError } from "../../errors";
import { MIGRATIONS, SCHEMA_VERSION } from "./migrations";

/** Marks the file as a paidup ledger (PRAGMA application_id), so we never adopt a stranger's DB. */
export const APPLICATION_ID = 0x70616964; // "paid"
const BUSY_TIMEOUT_MS = 5000;

export type DB = Database.Database;

function configure(db: DB): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma("journal_mode = WAL");
  // WAL defaults to NORMAL, which can lose the last commits on power loss: these are promises.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
}

function migrate(db: DB): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** Creates the ledger (state dir 0700, file 0600). Returns false if it existed already. */
export function createLedgerFile(dbPath: string): { db: DB; created: boolean } {
  const existed = fs.existsSync(dbPath);
  if (existed) return { db: openLedgerFile(dbPath), created: false };
  fs.mkdirSync(path.dirname(dbPath), { recursive: true, mode: 0o700 });
  // Create the file ourselves first so it never exists with a looser mode.
  fs.closeSync(fs.openSync(dbPath, "wx", 0o600));
  const db = new Database(dbPath);
  configure(db);
  db.pragma(`application_id = ${APPLICATION_ID}`);
  migrate(db);
  return { db, created: true };
}

/** Opens an existing ledger, refusing anything that is not a paidup ledger of a known schema. */
export function openLedgerFile(dbPath: string, opts: { readonly?: boolean } = {}): DB {
  if (!fs.existsSync(dbPath)) {
    throw new UsageError(`no ledger at ${dbPath}`, "run `paidup init` first (or set PAIDUP_DB)");
  }
  let db: DB;
  try {
    db = new Database(dbPath, { readonly: opts.readonly ?? false, fileMustExist: true });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const appId = db.pragma("application_id", { simple: true }) as number;
    if (appId !== APPLICATION_ID) {
      db.close();
      throw new UsageError(`${dbPath} is not a paidup ledger`, "point PAIDUP_DB at the ledger made by `paidup init`; this file was left untouched");
    }
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      throw new UsageError(`${dbPath} has schema version ${version}, newer than this paidup (${SCHEMA_VERSION})`, "upgrade paidup; the ledger was left untouched");
    }
    if (!opts.readonly) {
      configure(db);
      migrate(db);
    }
  } catch (err) {
    throw asLedgerError(err, dbPath);
  }
  return db;
}

/** SQLite failures become exit 3 (locked: wait for the next pass) or exit 2/3 with a reason. */
export function asLedgerError(err: unknown, dbPath: string): Error {
  if (err instanceof UsageError || err instanceof RuntimeFailure) return err;
  const code = (err as { code?: string }).code ?? "";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new RuntimeFailure(`ledger ${dbPath} is locked by another process`, "nothing was changed; the next pass picks up");
  }
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new RuntimeFailure(`ledger ${dbPath} is corrupt or not a database (${code})`, "restore it from a backup; it was left untouched");
  }
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR")) {
    return new RuntimeFailure(`ledger ${dbPath} cannot be written (${code})`, "check the file's owner and permissions and the free disk space");
  }
  return err instanceof Error ? err : new Error(String(err));
}
