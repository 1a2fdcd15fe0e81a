import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { UsageError } from "../../errors";
import { Ledger } from "../ledger";
import { SqliteDriver } from "./driver";
import { asSqliteLedgerError } from "./errors";
import { SCHEMA_VERSION } from "./schema-version";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const migrations = () => (require("./migrations") as typeof import("./migrations")).MIGRATIONS;

/** Marks the file as a paidup ledger (PRAGMA application_id), so we never adopt a stranger's DB. */
export const APPLICATION_ID = 0x70616964; // "paid"
const BUSY_TIMEOUT_MS = 5000;

type DB = Database.Database;

/**
 * better-sqlite3's addon, handed over by its path where its install puts it (build/Release, built
 * or prebuilt): left to find it, better-sqlite3 asks the `bindings` package, whose search (two
 * more modules, a stack trace, several failed requires) costs every `status --offline`, which
 * monitors start each minute, a few milliseconds. Anywhere else, that search still finds it.
 */
const ADDON = path.join(path.dirname(require.resolve("better-sqlite3")), "..", "build", "Release", "better_sqlite3.node");

function database(dbPath: string, opts: Database.Options = {}): DB {
  return new Database(dbPath, fs.existsSync(ADDON) ? { ...opts, nativeBinding: ADDON } : opts);
}

function configure(db: DB): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma("journal_mode = WAL");
  // WAL defaults to NORMAL, which can lose the last commits on power loss: these are promises.
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
}

function migrate(db: DB): void {
  // Up to date: no write lock needed (a pass holding it must not make every open wait).
  if ((db.pragma("user_version", { simple: true }) as number) >= SCHEMA_VERSION) return;
  // Two processes upgrading one ledger at once (a cron pass and a manual command after an
  // upgrade) must not both run a migration: the version is read again under the write lock
  // (BEGIN IMMEDIATE), so the second sees the first one's work instead of failing half-way.
  const step = db.transaction((): boolean => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version >= SCHEMA_VERSION) return false;
    db.exec(migrations()[version] as string);
    const broken = db.pragma("foreign_key_check") as unknown[];
    if (broken.length > 0) throw new Error(`migration ${version + 1} would break ${broken.length} foreign key reference(s)`);
    db.pragma(`user_version = ${version + 1}`);
    return true;
  });
  // A migration may rebuild a table others point at (SQLite's own 12-step recipe): foreign keys
  // off around it (the pragma is a no-op inside a transaction), and checked before each commit.
  db.pragma("foreign_keys = OFF");
  try {
    while (step.immediate()) {
      // one migration per transaction, until the ledger is at SCHEMA_VERSION
    }
  } finally {
    db.pragma("foreign_keys = ON");
  }
}

/**
 * The ledger's folder ends 0700: mkdir's mode applies only to a folder it creates, and an empty
 * `state/` that already existed (unpacked from an archive, made by hand) would stay 0755 and let
 * every local user read the ledger. Only an empty folder is tightened: a folder with other files
 * in it (a home directory, /var/lib) belongs to someone else's decision.
 */
function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (fs.readdirSync(dir).length === 0) fs.chmodSync(dir, 0o700);
}

/** Creates the ledger (state dir 0700, file 0600). Returns false if it existed already. */
export function createSqliteLedger(dbPath: string): { ledger: Ledger; created: boolean } {
  const existed = fs.existsSync(dbPath);
  if (existed) return { ledger: openSqliteLedger(dbPath), created: false };
  let made = false;
  try {
    makePrivateDir(path.dirname(dbPath));
    // Create the file ourselves first so it never exists with a looser mode.
    fs.closeSync(fs.openSync(dbPath, "wx", 0o600));
    made = true;
    const db = database(dbPath);
    configure(db);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    migrate(db);
    return { ledger: new Ledger(new SqliteDriver(db, dbPath)), created: true };
  } catch (err) {
    // Nothing half-made stays behind: a later `init` must not find an empty, unmarked file.
    if (made) for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(dbPath + suffix, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (["EACCES", "EPERM", "EROFS", "ENOTDIR", "ENOENT", "EISDIR", "ENOSPC"].includes(code)) {
      throw new UsageError(
        `cannot create the ledger at ${dbPath} (${code}: ${(err as Error).message.replace(/^\w+: /, "").replace(/, \w+ '.*'$/, "")})`,
        "set PAIDUP_DB to a path the user running paidup may write, or create its folder for that user",
      );
    }
    throw asSqliteLedgerError(err, dbPath);
  }
}

/** Opens an existing ledger, refusing anything that is not a paidup ledger of a known schema. */
export function openSqliteLedger(dbPath: string, opts: { readonly?: boolean } = {}): Ledger {
  if (!fs.existsSync(dbPath)) {
    throw new UsageError(`no ledger at ${dbPath}`, "run `paidup init` first (or set PAIDUP_DB)");
  }
  let db: DB;
  try {
    db = database(dbPath, { readonly: opts.readonly ?? false, fileMustExist: true });
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
    throw asSqliteLedgerError(err, dbPath);
  }
  return new Ledger(new SqliteDriver(db, dbPath));
}
