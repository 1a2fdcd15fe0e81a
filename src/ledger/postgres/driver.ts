import { AsyncLocalStorage } from "node:async_hooks";
import pg from "pg";
import type { Driver, Params, Sql } from "../sql";
import { asPgLedgerError, isPgUnavailable } from "./errors";
import { toPg } from "./translate";

// BIGINT columns hold millisecond times and amounts, all far below 2^53: read them as numbers,
// as SQLite gives them, so the operations and their callers see the same rows on both backends.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser,
};

/** A statement runner over one pg client or the pool. */
class Runner implements Sql {
  readonly dialect = "postgres" as const;
  constructor(
    private readonly target: pg.Pool | pg.PoolClient,
    private readonly driver: PgDriver,
    private readonly inTx: boolean,
  ) {}

  private async run(sql: string, params?: Params): Promise<pg.QueryResult> {
    if (!this.inTx) this.driver.refuseInsideTransaction();
    const { text, values } = toPg(sql, params);
    return this.target.query(text, values);
  }

  async query<T>(sql: string, params?: Params): Promise<T[]> {
    return (await this.run(sql, params)).rows as T[];
  }

  async one<T>(sql: string, params?: Params): Promise<T | undefined> {
    return (await this.run(sql, params)).rows[0] as T | undefined;
  }

  async exec(sql: string, params?: Params): Promise<number> {
    return (await this.run(sql, params)).rowCount ?? 0;
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.inTx ? fn(this) : this.driver.transaction(fn);
  }
}

/**
 * node-postgres behind the async port: a small pool; each transaction on one client of it.
 * Row locks (SELECT … FOR UPDATE in claim) and conditional UPDATEs keep claims atomic across
 * processes and hosts; a transaction never spans a send.
 */
export class PgDriver implements Driver {
  readonly dialect = "postgres" as const;
  private readonly inside = new AsyncLocalStorage<PgDriver>();
  private readonly runner: Runner;

  constructor(
    readonly pool: pg.Pool,
    readonly where: string,
  ) {
    this.runner = new Runner(pool, this, false);
  }

  static connect(url: string, where: string, opts: { readonly?: boolean } = {}): PgDriver {
    const options = [
      // A process frozen mid-transaction must not hold claims' row locks for ever.
      "-c idle_in_transaction_session_timeout=60000",
      // The busy_timeout of SQLite: wait a while for another process's lock, then exit 3.
      "-c lock_timeout=10000",
      // status and show open the ledger read-only: the server itself refuses their writes.
      ...(opts.readonly ? ["-c default_transaction_read_only=on"] : []),
    ].join(" ");
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 10_000, options, types });
    // An idle client whose server went away emits here; unhandled, it would end the process.
    pool.on("error", () => undefined);
    return new PgDriver(pool, where);
  }

  /** Using the outer handle inside a transaction would wait on our own row locks: fail at once. */
  refuseInsideTransaction(): void {
    if (this.inside.getStore() === this) throw new Error("ledger used through its outer handle inside a transaction; use the transaction's handle");
  }

  query<T>(sql: string, params?: Params): Promise<T[]> {
    return this.runner.query<T>(sql, params);
  }

  one<T>(sql: string, params?: Params): Promise<T | undefined> {
    return this.runner.one<T>(sql, params);
  }

  exec(sql: string, params?: Params): Promise<number> {
    return this.runner.exec(sql, params);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    this.refuseInsideTransaction();
    const out = await this.begin();
    const { client } = out;
    let broken = false;
    try {
      try {
        const result = await this.inside.run(this, () => fn(new Runner(client, this, true)));
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => (broken = true));
        throw err;
      }
    } finally {
      // A client whose ROLLBACK failed is in an unknown state: destroy it rather than reuse it.
      out.release(broken);
    }
  }

  /**
   * A client with a transaction begun. An idle client of the pool may have lost its session a
   * moment ago (a restart or failover ends every session; the pool hears of it only when the
   * server's message is read): if BEGIN fails so, nothing ran, and one fresh client is tried.
   */
  private async begin(): Promise<{ client: pg.PoolClient; release(broken: boolean): void }> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.checkout();
      try {
        await out.client.query("BEGIN");
        return out;
      } catch (err) {
        out.release(true);
        if (attempt >= 2 || !isPgUnavailable(err)) throw err;
      }
    }
  }

  /** Runs `fn` on one client of the pool (migrations hold their advisory lock on it). */
  async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const out = await this.checkout();
    try {
      return await fn(out.client);
    } finally {
      out.release(false);
    }
  }

  /**
   * A client taken out of the pool, with an 'error' listener for as long as it is out. The pool
   * listens only to its idle clients: a checked-out client whose server ends the session (a
   * restart's 57P01, a failover, pg_terminate_backend) emits 'error', and with no listener that
   * would end the process. Its query in flight fails on its own (exit 3, the next pass picks
   * up); the listener only records that the client is dead, so it is destroyed, never reused.
   *
   * The listener is attached in pool.connect's callback, not after awaiting its promise: a new
   * client is handed out inside the socket read that carried the end of its login, and when a
   * restart's FATAL came in that same read (a loaded host reads late) it is emitted before any
   * promise continuation runs (test/postgres-session-race.test.ts).
   */
  private checkout(): Promise<{ client: pg.PoolClient; release(broken: boolean): void }> {
    return new Promise((resolve, reject) => {
      this.pool.connect((err, client) => {
        if (err || !client) return reject(err ?? new Error("the pool handed out no client"));
        let lost = false;
        const onError = () => (lost = true);
        client.on("error", onError);
        resolve({
          client,
          release(broken) {
            client.removeListener("error", onError);
            client.release(broken || lost);
          },
        });
      });
    });
  }

  asLedgerError(err: unknown): Error {
    return asPgLedgerError(err, this.where);
  }

  unavailable(err: unknown): boolean {
    return isPgUnavailable(err);
  }

  async probeWrite(): Promise<void> {
    await this.withClient(async (client) => {
      await client.query("BEGIN");
      try {
        // Privileges are checked even when no row matches: this proves write access, changes nothing.
        await client.query("UPDATE charges SET id = id WHERE false");
        await client.query("INSERT INTO attempts (charge_id, at, outcome) SELECT id, 0, 'probe' FROM charges WHERE false");
        await client.query("INSERT INTO meta (key, value) SELECT 'probe', 'probe' WHERE false");
      } finally {
        await client.query("ROLLBACK");
      }
    });
  }

  async schemaVersion(): Promise<number> {
    const row = await this.one<{ v: number | null }>("SELECT max(version) AS v FROM paidup_schema");
    return row?.v ?? 0;
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
