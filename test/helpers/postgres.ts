import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

// A throwaway PostgreSQL cluster for tests: a real server (Debian's postgresql package), never
// an imitation. One cluster per test run (shared through PAIDUP_TEST_PG by with-postgres.ts)
// or, when a test file runs alone, one per process, stopped and removed when the process exits.
// Every test gets a fresh database. Tests connect over TCP on 127.0.0.1 as a role with a
// password, so a password is always in play and checked never to be printed.

export const PG_BIN = process.env.PAIDUP_PG_BIN ?? "/usr/lib/postgresql/15/bin";
export const TEST_ROLE = "paidup_test";
export const TEST_PASSWORD = "pw-Secr3t-never-printed";

export interface Cluster {
  /** Unix socket directory (also the cluster's parent directory). */
  socketDir: string;
  port: number;
}

export function postgresAvailable(): boolean {
  return fs.existsSync(path.join(PG_BIN, "initdb"));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (initdb refuses root). */
function asOwner(bin: string, args: string[], opts: { input?: string } = {}): string {
  const file = path.join(PG_BIN, bin);
  const root = process.getuid?.() === 0;
  const [cmd, argv] = root ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
  return execFileSync(cmd, argv as string[], { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], input: opts.input, maxBuffer: 1 << 30 });
}

/** Starts a new cluster: initdb into a temp dir, pg_ctl start on a free port, 127.0.0.1 only. */
export async function startCluster(): Promise<Cluster & { stop(): void }> {
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-pg-"));
  const data = path.join(socketDir, "data");
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", socketDir]);
  asOwner("initdb", ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"]);
  const port = await freePort();
  // fsync off: a test cluster's durability does not matter, its speed does.
  const opts = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  // Kept beside the data, so a test that stops the server (an outage) can start it again alike.
  fs.writeFileSync(path.join(socketDir, "start-options"), opts);
  const cluster = { socketDir, port };
  startServer(cluster);
  psql(cluster, `CREATE ROLE ${TEST_ROLE} LOGIN CREATEDB PASSWORD '${TEST_PASSWORD}'`);
  let stopped = false;
  return {
    ...cluster,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        asOwner("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // Already stopped (a test of an outage that ended early): nothing to stop.
      } finally {
        fs.rmSync(socketDir, { recursive: true, force: true });
      }
    },
  };
}

const dataDir = (c: Cluster) => path.join(c.socketDir, "data");

/** Starts the server of a cluster made by startCluster (again, after stopServer), waiting until it accepts connections. */
export function startServer(c: Cluster): void {
  const opts = fs.readFileSync(path.join(c.socketDir, "start-options"), "utf8");
  asOwner("pg_ctl", ["-D", dataDir(c), "-o", opts, "-l", path.join(c.socketDir, "log"), "-w", "-t", "60", "start"]);
}

/**
 * Stops the server as an operator or a failover does: `fast` ends every session with 57P01
 * ("terminating connection due to administrator command"), `immediate` is a crash (57P02).
 */
export function stopServer(c: Cluster, mode: "fast" | "immediate" = "fast"): void {
  asOwner("pg_ctl", ["-D", dataDir(c), "-m", mode, "-w", "-t", "60", "stop"]);
}

/** `pg_ctl restart -m fast`: every session ends with 57P01, and the server is back when this returns. */
export function restartServer(c: Cluster): void {
  // -l as at start: without it the new server would write to our pipe, and we would wait on it for ever.
  const opts = fs.readFileSync(path.join(c.socketDir, "start-options"), "utf8");
  asOwner("pg_ctl", ["-D", dataDir(c), "-o", opts, "-l", path.join(c.socketDir, "log"), "-m", "fast", "-w", "-t", "60", "restart"]);
}

/** Ends every session of the test role (pg_terminate_backend, as a failover does); returns how many. */
export function terminateTestSessions(c: Cluster, database?: string): number {
  const where = database ? ` AND datname = '${database}'` : "";
  const out = psql(c, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '${TEST_ROLE}'${where}`);
  return Number(out.trim());
}

/** A statement as the superuser over the unix socket (trusted); returns psql's unaligned output. */
export function psql(c: Cluster, sql: string, database = "postgres"): string {
  return asOwner("psql", ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", c.socketDir, "-p", String(c.port), "-U", "postgres", "-d", database, "-c", sql]);
}

let shared: Cluster | undefined;
let starting: Promise<Cluster> | undefined;

/** The cluster of this test run: the shared one if with-postgres.ts started it, else our own. */
export function cluster(): Promise<Cluster> {
  if (shared) return Promise.resolve(shared);
  const fromEnv = process.env.PAIDUP_TEST_PG;
  if (fromEnv) return Promise.resolve((shared = JSON.parse(fromEnv) as Cluster));
  starting ??= startCluster().then((c) => {
    // Stopped when this test process ends, whichever way it ends.
    process.once("exit", () => c.stop());
    return (shared = c);
  });
  return starting;
}

/** A new empty database owned by the test role; returns its URL (with the password). */
export async function freshDatabase(): Promise<{ url: string; name: string }> {
  const c = await cluster();
  const name = `paidup_${crypto.randomBytes(6).toString("hex")}`;
  psql(c, `CREATE DATABASE ${name} OWNER ${TEST_ROLE}`);
  return { name, url: databaseUrl(c, name) };
}

export function databaseUrl(c: Cluster, name: string, password = TEST_PASSWORD): string {
  return `postgres://${TEST_ROLE}:${encodeURIComponent(password)}@127.0.0.1:${c.port}/${name}`;
}

export function dropDatabase(name: string): void {
  if (!shared) return;
  psql(shared, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Rows of a query, synchronously (psql), so sync test helpers work on both backends. */
export function queryRows<T>(database: string, sql: string): T[] {
  // (The row alias is paidup_row, so a query may name its own columns t, r, …)
  if (!shared) throw new Error("no cluster started");
  const out = psql(shared, `SELECT coalesce(json_agg(paidup_row), '[]') FROM (${sql}) paidup_row`, database);
  return JSON.parse(out) as T[];
}

/** A statement, synchronously; returns the affected row count. */
export function execRows(database: string, sql: string): number {
  if (!shared) throw new Error("no cluster started");
  const out = psql(shared, `WITH changed AS (${sql} RETURNING 1) SELECT count(*) FROM changed`, database);
  return Number(out.trim());
}

