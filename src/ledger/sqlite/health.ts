import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type Database from "better-sqlite3";
import { FatalFailure, RuntimeFailure } from "../../errors";

// What `check` asks of a SQLite ledger beyond opening it: can the user running it write every
// file SQLite needs, and are all its pages intact. SQLite itself answers neither up front: it
// opens a file it may not write read-only without a word (BEGIN IMMEDIATE still succeeds), and
// reads a corrupt page only when a query reaches it, mid-pass.

/**
 * The device and inode of the ledger file when it was opened. After `rm state/paidup.db*` (or a
 * backup restored over it) the open connection keeps writing into the old, unlinked file, and
 * every record made from then on is gone at the next restart: a pass checks this first.
 */
export class FileIdentity {
  private readonly dev: number;
  private readonly ino: number;

  constructor(private readonly dbPath: string) {
    const st = fs.statSync(dbPath);
    [this.dev, this.ino] = [st.dev, st.ino];
  }

  verify(): void {
    let st: fs.Stats | null;
    try {
      st = fs.statSync(this.dbPath);
    } catch {
      st = null;
    }
    if (st && st.dev === this.dev && st.ino === this.ino) return;
    throw new FatalFailure(
      `ledger ${this.dbPath} was ${st ? "replaced by another file" : "deleted"} while paidup had it open; stopping so that nothing more is recorded into the old file`,
      "restore the ledger (or `paidup init` a new one), then start paidup again; a charge delivered meanwhile is recognised by Resend's idempotency key within 24 h",
    );
  }
}

export function currentUser(): string {
  const me = os.userInfo();
  return `${me.username} (uid ${me.uid})`;
}

/** The folder (for the -wal and -shm files SQLite creates) and the ledger's own files. */
function unwritableFiles(dbPath: string): string[] {
  const candidates = [path.dirname(dbPath), dbPath, `${dbPath}-wal`, `${dbPath}-shm`];
  return candidates.filter((file) => {
    try {
      fs.accessSync(file, fs.constants.W_OK);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== "ENOENT";
    }
  });
}

const notWritable = (what: string, why: string) =>
  new RuntimeFailure(`${what} cannot be written by ${currentUser()}${why}; run check as the user that runs paidup, and give that user the state folder and its files (chown)`);

/** A real write, rolled back: the only proof that this connection may write. Changes nothing. */
export function probeSqliteWrite(db: Database.Database, dbPath: string): void {
  const unwritable = unwritableFiles(dbPath);
  if (unwritable.length > 0) throw notWritable(unwritable.join(", "), "");
  db.exec("BEGIN IMMEDIATE");
  try {
    db.prepare("INSERT INTO meta (key, value) VALUES ('check_probe', '1') ON CONFLICT (key) DO NOTHING").run();
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (/^SQLITE_(READONLY|CANTOPEN|PERM|AUTH)/.test(code)) throw notWritable(dbPath, ` (${code})`);
    throw err;
  } finally {
    if (db.inTransaction) db.exec("ROLLBACK");
  }
}

/** PRAGMA quick_check over every page: [] when intact, else SQLite's findings, one per line. */
export function sqliteIntegrityProblems(db: Database.Database): string[] {
  return (db.pragma("quick_check") as { quick_check: string }[])
    .map((r) => r.quick_check.replace(/\*\*\* in database \w+ \*\*\*\s*/g, "").replace(/\s*\n\s*/g, " ").trim())
    .filter((r) => r !== "ok" && r !== "");
}
