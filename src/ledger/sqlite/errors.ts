import { RuntimeFailure, UsageError } from "../../errors";

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
  if (code.startsWith("SQLITE_READONLY") || code.startsWith("SQLITE_CANTOPEN") || code.startsWith("SQLITE_IOERR")) {
    return new RuntimeFailure(`ledger ${dbPath} cannot be written (${code})`, "check the file's owner and permissions and the free disk space");
  }
  return err instanceof Error ? err : new Error(String(err));
}
