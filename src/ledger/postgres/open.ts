import { UsageError } from "../../errors";
import { Ledger } from "../ledger";
import { PgDriver } from "./driver";
import { PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./migrations";
import { checkDatabaseUrl, describeUrl } from "./url";

// Any constant will do, as long as it is paidup's: the advisory lock that makes two processes
// starting at once (two hosts after a deploy) migrate one after the other, never both.
const MIGRATION_LOCK = 0x70616964; // "paid"

async function hasLedger(driver: PgDriver): Promise<boolean> {
  const row = await driver.one<{ t: string | null }>("SELECT to_regclass('paidup_schema')::text AS t");
  return row?.t != null;
}

/** Applies the missing migrations, each in its own transaction under the advisory lock. */
async function migrate(driver: PgDriver): Promise<void> {
  await driver.withClient(async (client) => {
    for (;;) {
      await client.query("BEGIN");
      try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
        await client.query("CREATE TABLE IF NOT EXISTS paidup_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
        // Read under the lock: another process may have migrated while we waited for it.
        const { rows } = await client.query<{ v: number | null }>("SELECT max(version) AS v FROM paidup_schema");
        const current = rows[0]?.v ?? 0;
        if (current > PG_SCHEMA_VERSION) {
          throw new UsageError(`${driver.where} has schema version ${current}, newer than this paidup (${PG_SCHEMA_VERSION})`, "upgrade paidup; the ledger was left untouched");
        }
        if (current === PG_SCHEMA_VERSION) {
          await client.query("COMMIT");
          return;
        }
        await client.query(PG_MIGRATIONS[current] as string);
        await client.query("INSERT INTO paidup_schema (version, applied_at) VALUES ($1, $2)", [current + 1, Date.now()]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    }
  });
}

async function connected<T>(driver: PgDriver, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    await driver.close().catch(() => undefined);
    throw driver.asLedgerError(err);
  }
}

/** Opens the ledger in `url`, refusing a database without one (run `paidup init` first). */
export async function openPgLedger(url: string, opts: { readonly?: boolean } = {}): Promise<Ledger> {
  checkDatabaseUrl(url);
  const driver = PgDriver.connect(url, describeUrl(url), opts);
  return connected(driver, async () => {
    if (!(await hasLedger(driver))) throw new UsageError(`no paidup ledger in ${driver.where}`, "run `paidup init` first (or check PAIDUP_DATABASE_URL)");
    const version = await driver.schemaVersion();
    if (version > PG_SCHEMA_VERSION) {
      throw new UsageError(`${driver.where} has schema version ${version}, newer than this paidup (${PG_SCHEMA_VERSION})`, "upgrade paidup; the ledger was left untouched");
    }
    if (!opts.readonly) await migrate(driver);
    return new Ledger(driver);
  });
}

/** Creates the ledger's tables in `url` if they are not there yet. */
export async function createPgLedger(url: string): Promise<{ ledger: Ledger; created: boolean }> {
  checkDatabaseUrl(url);
  const driver = PgDriver.connect(url, describeUrl(url));
  return connected(driver, async () => {
    const existed = await hasLedger(driver);
    await migrate(driver);
    return { ledger: new Ledger(driver), created: !existed };
  });
}
