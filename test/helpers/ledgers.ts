import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLedger, Ledger } from "../../src/ledger";
import { dropDatabase, freshDatabase, postgresAvailable } from "./postgres";

// Fresh, empty ledgers on every backend, for contract tests that must hold on each of them.

export interface Backend {
  name: string;
  /** A new ledger with the schema and nothing else. */
  fresh(): Promise<Ledger>;
  /** Removes whatever fresh() made. */
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-ledger-"));
  const open: Ledger[] = [];
  return {
    name: "sqlite",
    async fresh() {
      const { ledger } = await createLedger({ dbPath: path.join(dir, `${crypto.randomBytes(4).toString("hex")}.db`) });
      open.push(ledger);
      return ledger;
    },
    async cleanup() {
      await Promise.all(open.map((l) => l.close().catch(() => undefined)));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(): Backend {
  const open: Ledger[] = [];
  const names: string[] = [];
  return {
    name: "postgres",
    async fresh() {
      const { url, name } = await freshDatabase();
      names.push(name);
      const { ledger } = await createLedger({ dbPath: "/nonexistent", databaseUrl: url });
      open.push(ledger);
      return ledger;
    },
    async cleanup() {
      await Promise.all(open.map((l) => l.close().catch(() => undefined)));
      for (const name of names) dropDatabase(name);
    },
  };
}

/** SQLite always; PostgreSQL wherever its binaries are installed (CI installs them). */
export function backends(): Backend[] {
  return postgresAvailable() ? [sqliteBackend(), postgresBackend()] : [sqliteBackend()];
}
