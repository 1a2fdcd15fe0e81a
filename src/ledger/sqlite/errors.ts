import { RuntimeFailure, UsageError } from "../../errors";
import { currentUser } from "./health";

/** SQLite failures become exit 3 (locked: wait for the next pass) or exit 2/3 with a reason. */
export function asSqliteLedgerError(err: unknown, dbPath: string): Error {
  if (err instanceof UsageError || err instanceof RuntimeFailure) return err;
  const code = (err as { code?: string }).code ?? "";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new RuntimeFailure(`ledger ${dbPath} is locked by another process`, "nothing was changed; the next pass picks up");
  }
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new RuntimeFailure(`ledger ${dbPath} is corrupt or not a database (${code})`, "restore it from a backup; it was left untouched");
  }
  if (code === "SQLITE_FULL" || (err as { message?: string }).message?.includes("disk is full")) {
    return new RuntimeFailure(`ledger ${dbPath}: the disk is full (${code})`, "free some space; nothing unconfirmed was recorded, and the next pass picks up");
  }
  if (code.startsWith("SQLITE_IOERR")) {
    return new RuntimeFailure(`ledger ${dbPath}: the disk refused a read or write (${code}); it may be full or failing`, "free some space (df -h) and check the disk; nothing unconfirmed was recorded, and the next pass picks up");
  }
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN")) {
    // Say who: a ledger made by root (`sudo paidup init`) and run by a service user is the usual cause.
    return new RuntimeFailure(`ledger ${dbPath} cannot be written by ${currentUser()} (${code})`, "check the owner and permissions of the ledger, its folder and its -wal/-shm files, and the free disk space");
  }
  return err instanceof Error ? err : new Error(String(err));
}
