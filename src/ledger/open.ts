import type { Ledger } from "./ledger";
import { createSqliteLedger, openSqliteLedger } from "./sqlite/open";

// Which backend holds the ledger. SQLite (a file) is the default.

export interface LedgerLocation {
  /** The SQLite file (PAIDUP_DB). */
  dbPath: string;
}

/** Opens an existing ledger, refusing anything that is not a paidup ledger of a known schema. */
export async function openLedger(at: LedgerLocation, opts: { readonly?: boolean } = {}): Promise<Ledger> {
  return openSqliteLedger(at.dbPath, opts);
}

/** Creates the ledger if it does not exist yet; `created` says which. */
export async function createLedger(at: LedgerLocation): Promise<{ ledger: Ledger; created: boolean }> {
  return createSqliteLedger(at.dbPath);
}
