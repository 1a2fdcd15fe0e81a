import type Database from "better-sqlite3";
import type { Driver, Params, Sql } from "../sql";
import { Mutex } from "./mutex";
import { asSqliteLedgerError } from "./errors";
import { FileIdentity, probeSqliteWrite, sqliteIntegrityProblems } from "./health";
import { stmt } from "./statements";

function bind(params: Params | undefined): unknown[] {
  if (params === undefined) return [];
  // better-sqlite3 takes `@name` parameters from one object, `?` from positional arguments.
  return Array.isArray(params) ? params : [params];
}

/**
 * Statements on the bare connection; the caller holds the lock. A failure leaves here already
 * classified (locked, corrupt, disk full: exit 3 with a reason), whichever command met it.
 */
class Direct implements Sql {
  readonly dialect = "sqlite" as const;
  constructor(
    private readonly db: Database.Database,
    private readonly where: string,
  ) {}

  async query<T>(sql: string, params?: Params): Promise<T[]> {
    return this.run(() => stmt(this.db, sql).all(...bind(params)) as T[]);
  }

  async one<T>(sql: string, params?: Params): Promise<T | undefined> {
    return this.run(() => stmt(this.db, sql).get(...bind(params)) as T | undefined);
  }

  async exec(sql: string, params?: Params): Promise<number> {
    return this.run(() => stmt(this.db, sql).run(...bind(params)).changes);
  }

  private run<T>(statement: () => T): T {
    try {
      return statement();
    } catch (err) {
      throw asSqliteLedgerError(err, this.where);
    }
  }

  /** Already inside the transaction: join it. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/** better-sqlite3 behind the async port: one connection, one lock, BEGIN IMMEDIATE transactions. */
export class SqliteDriver implements Driver {
  readonly dialect = "sqlite" as const;
  private readonly lock = new Mutex();
  private readonly direct: Direct;
  private readonly identity: FileIdentity;

  constructor(
    readonly db: Database.Database,
    readonly where: string,
  ) {
    this.direct = new Direct(db, where);
    this.identity = new FileIdentity(where);
  }

  query<T>(sql: string, params?: Params): Promise<T[]> {
    return this.lock.run(() => this.direct.query<T>(sql, params));
  }

  one<T>(sql: string, params?: Params): Promise<T | undefined> {
    return this.lock.run(() => this.direct.one<T>(sql, params));
  }

  exec(sql: string, params?: Params): Promise<number> {
    return this.lock.run(() => this.direct.exec(sql, params));
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.lock.transaction(async () => {
      // IMMEDIATE takes the write lock at BEGIN, so two processes never both read a row as
      // claimable and then both write it (the second waits busy_timeout, then fails: exit 3).
      try {
        this.db.exec("BEGIN IMMEDIATE");
      } catch (err) {
        throw asSqliteLedgerError(err, this.where);
      }
      try {
        const result = await fn(this.direct);
        this.db.exec("COMMIT");
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        // A COMMIT that meets a full disk is classified like any statement's failure.
        throw asSqliteLedgerError(err, this.where);
      }
    });
  }

  asLedgerError(err: unknown): Error {
    return asSqliteLedgerError(err, this.where);
  }

  probeWrite(): Promise<void> {
    return this.lock.run(() => probeSqliteWrite(this.db, this.where));
  }

  async verifyIdentity(): Promise<void> {
    this.identity.verify();
  }

  integrityProblems(): Promise<string[]> {
    return this.lock.run(() => sqliteIntegrityProblems(this.db));
  }

  async schemaVersion(): Promise<number> {
    return this.db.pragma("user_version", { simple: true }) as number;
  }

  close(): Promise<void> {
    // Waits for the work in hand, so a transaction is never cut off by close.
    return this.lock.run(() => {
      this.db.close();
    });
  }
}
