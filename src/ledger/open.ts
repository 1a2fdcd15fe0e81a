import type { Ledger } from "./ledger";
import { createPgLedger, openPgLedger } from "./postgres/open";
import { createSqliteLedger, openSqliteLedger } from "./sqlite/open";

// Which backend holds the ledger: PostgreSQL when PAIDUP_DATABASE_URL is set, else the SQLite
// file (the default, PAIDUP_DB).

export interface LedgerLocation {
  /** The SQLite file (PAIDUP_DB). */
  dbPath: string;
  /** PAIDUP_DATABASE_URL: when set, the ledger is in PostgreSQL and dbPath is ignored. */
  databaseUrl?: string;
}

/** Opens an existing ledger, refusing anything that is not a paidup ledger of a known schema. */
export async function openLedger(at: LedgerLocation, opts: { readonly?: boolean } = {}): Promise<Ledger> {
  if (at.databaseUrl) return openPgLedger(at.databaseUrl, opts);
  return openSqliteLedger(at.dbPath, opts);
}

/** Creates the ledger if it does not exist yet; `created` says which. */
export async function createLedger(at: LedgerLocation): Promise<{ ledger: Ledger; created: boolean }> {
  if (at.databaseUrl) return createPgLedger(at.databaseUrl);
  return createSqliteLedger(at.dbPath);
}
