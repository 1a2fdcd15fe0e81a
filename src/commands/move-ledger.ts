import { loadEnv } from "../config";
import { EXIT, ExitCode, UsageError } from "../errors";
import { createLedger, openLedger } from "../ledger";

/**
 * Copies the SQLite ledger (PAIDUP_DB) into an empty PostgreSQL ledger and verifies it row for
 * row. Deletes nothing: the SQLite file stays as it was, to go back to or to keep as a backup.
 */
export async function moveLedgerCommand(flags: { to?: string }): Promise<ExitCode> {
  const to = flags.to?.trim();
  if (!to) throw new UsageError("move-ledger needs --to <postgres url>", "e.g. paidup move-ledger --to postgres://paidup@db.example.com/paidup");
  const env = loadEnv();
  const source = await openLedger({ dbPath: env.dbPath });
  try {
    const { ledger: target } = await createLedger({ dbPath: env.dbPath, databaseUrl: to });
    try {
      process.stdout.write(`copying ${source.where} into ${target.where}\n`);
      const tables = await source.copyInto(target);
      for (const t of tables) process.stdout.write(`  ${t.table.padEnd(20)} ${String(t.rows).padStart(8)} row(s)  sha256 ${t.checksum.slice(0, 16)}  verified\n`);
      process.stdout.write(
        [
          `copied and verified ${tables.length} table(s); ${source.where} was left as it was`,
          "next: stop paidup everywhere, set PAIDUP_DATABASE_URL to this database, start it again",
          "",
        ].join("\n"),
      );
      return EXIT.ok;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
