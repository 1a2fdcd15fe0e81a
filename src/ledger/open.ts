import type { Ledger } from "./ledger";

// Which backend holds the ledger: PostgreSQL when PAIDUP_DATABASE_URL is set, else the SQLite
// file (the default, PAIDUP_DB). Each backend's driver is loaded only when chosen, so a SQLite
// shop never loads `pg` (start-up time), nor a PostgreSQL one better-sqlite3.

/* eslint-disable @typescript-eslint/no-require-imports */
const postgres = () => require("./postgres/open") as typeof import("./postgres/open");
const sqlite = () => require("./sqlite/open") as typeof import("./sqlite/open");
/* eslint-enable @typescript-eslint/no-require-imports */

export interface LedgerLocation {
  /** The SQLite file (PAIDUP_DB). */
  dbPath: string;
  /** PAIDUP_DATABASE_URL: when set, the ledger is in PostgreSQL and dbPath is ignored. */
  databaseUrl?: string;
}

/** Opens an existing ledger, refusing anything that is not a paidup ledger of a known schema. */
export async function openLedger(at: LedgerLocation, opts: { readonly?: boolean } = {}): Promise<Ledger> {
  if (at.databaseUrl) return postgres().openPgLedger(at.databaseUrl, opts);
  return sqlite().openSqliteLedger(at.dbPath, opts);
}

/** Creates the ledger if it does not exist yet; `created` says which. */
export async function createLedger(at: LedgerLocation): Promise<{ ledger: Ledger; created: boolean }> {
  if (at.databaseUrl) return postgres().createPgLedger(at.databaseUrl);
  return sqlite().createSqliteLedger(at.dbPath);
}
