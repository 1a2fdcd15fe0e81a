// The port between the ledger's operations and a database. Operations are written once, in SQL
// that SQLite (3.35+) and PostgreSQL both accept; each backend implements this small surface.

/** Positional (`?`) or named (`@name`) parameters; written one way, translated per backend. */
export type Params = readonly unknown[] | Readonly<Record<string, unknown>>;

export type Dialect = "sqlite" | "postgres";

export interface Sql {
  readonly dialect: Dialect;
  /** Every row the statement returns. */
  query<T>(sql: string, params?: Params): Promise<T[]>;
  /** The first row, or undefined. */
  one<T>(sql: string, params?: Params): Promise<T | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  exec(sql: string, params?: Params): Promise<number>;
  /**
   * Runs `fn` in one transaction that holds the ledger's write lock. Inside, use `tx` only (the
   * outer handle waits for the transaction to end). Nested calls join the outer transaction.
   * Never await network I/O inside: a send happens between a claim and its commit, not in one.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** A connection (or pool) to one ledger. */
export interface Driver extends Sql {
  /** Where the ledger lives, for messages: a path, or a URL without its password. */
  readonly where: string;
  /** Maps a driver failure to paidup's typed errors (locked → exit 3, and so on). */
  asLedgerError(err: unknown): Error;
  /**
   * Whether a failure means the database server is unavailable for now (restarting, failing
   * over, unreachable): a later try may succeed. Backends without a server omit it.
   */
  unavailable?(err: unknown): boolean;
  /** Takes the write lock for a moment and lets it go, changing nothing: `check` proves write access. */
  probeWrite(): Promise<void>;
  /**
   * Throws a FatalFailure when the ledger this connection has open is no longer the one its
   * location names (the file was deleted or replaced); backends without files omit it.
   */
  verifyIdentity?(): Promise<void>;
  /** What an integrity check of the storage found ([] = intact); backends without one omit it. */
  integrityProblems?(): Promise<string[]>;
  /** The schema version the ledger is at. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}
