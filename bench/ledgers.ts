import { execSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import { createLedger, Ledger } from "../src/ledger";
import { databaseUrl, psql, startCluster } from "../test/helpers/postgres";
import { Measured, medianRun, paidCharge, Workspace } from "./harness";
import { seedDelivered } from "./scenarios";

// `npm run bench:ledgers [-- --sizes 10000,100000]`: the same shop on SQLite and on PostgreSQL
// (a throwaway local cluster, 127.0.0.1, default settings but fsync on) at each history size:
//  - the 100k history is seeded into SQLite (bench/scenarios.ts) and, for PostgreSQL, carried
//    over with the real `paidup move-ledger`, which is timed too;
//  - a steady pass over that history (nothing new), median of 3, through the real CLI;
//  - a delivery pass for 500 new charges through the real CLI (paced by the config's 100/s);
//  - the ledger's own delivery throughput: claim + commitDelivered per charge, in-process, one at a
//    time and 8 at once (the send pool), with no Resend in between: what the ledger allows.

const HISTORY_ENDS_AGO_S = 600;

interface Row {
  backend: string;
  size: number;
  move?: Measured;
  steady: Measured;
  deliver500: Measured;
  claimsSerial: number;
  claimsParallel: number;
}

async function ledgerThroughput(open: () => Promise<Ledger>, n: number, parallel: number): Promise<number> {
  const ledger = await open();
  try {
    const now = Date.now();
    const tag = crypto.randomBytes(3).toString("hex");
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      for (let i = next++; i < n; i = next++) {
        const id = `ch_tp_${tag}_${i}`;
        const claimed = await ledger.claim({ id, created: Math.floor(now / 1000), amount: 4900, currency: "usd", email: "t@example.com" }, [{ product: "ship-fast", payload: '{"to":"t@example.com"}' }], "bench", now);
        if (claimed.kind !== "claimed") throw new Error(`claim ${id}: ${claimed.kind}`);
        await ledger.commitDelivered(id, "ship-fast", `em_${id}`, now);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return n / ((performance.now() - started) / 1000);
  } finally {
    await ledger.close();
  }
}

async function scenario(backend: "sqlite" | "postgres", size: number, pgUrl: () => string): Promise<Row> {
  const ws = await Workspace.start(`${backend}-${size}`);
  try {
    const end = Math.floor(Date.now() / 1000) - HISTORY_ENDS_AGO_S;
    ws.stripe.bulkAddCharges(size, (i) => paidCharge(i, end - (size - 1 - i)));
    await ws.runOk(["init", "--since", new Date((end - size - 60) * 1000).toISOString()]);
    seedDelivered(ws, ws.stripe.charges().map((c) => ({ id: c.id, created: c.created, email: c.billing_details.email ?? "" })));
    const env: Record<string, string> = {};
    let move: Measured | undefined;
    if (backend === "postgres") {
      const url = pgUrl();
      move = await ws.runOk(["move-ledger", "--to", url]);
      env.PAIDUP_DATABASE_URL = url;
    }
    const steady = await medianRun(3, () => ws.runOk(["reconcile"], { env }));
    if (!/seen 0,/.test(steady.stdout)) throw new Error(`steady pass saw charges: ${steady.stdout}`);
    const now = Math.floor(Date.now() / 1000);
    ws.stripe.bulkAddCharges(500, (i) => paidCharge(size + i, now - 30 + Math.floor(i * 0.05)));
    const deliver500 = await ws.runOk(["reconcile"], { env });
    if (!/delivered 500/.test(deliver500.stdout)) throw new Error(`delivery pass: ${deliver500.stdout}`);
    const open = async () => (await createLedger({ dbPath: ws.dbPath, databaseUrl: env.PAIDUP_DATABASE_URL })).ledger;
    const claimsSerial = await ledgerThroughput(open, 2000, 1);
    const claimsParallel = await ledgerThroughput(open, 2000, 8);
    return { backend, size, move, steady, deliver500, claimsSerial, claimsParallel };
  } finally {
    await ws.close();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf("--sizes");
  const sizes = (i >= 0 ? (process.argv[i + 1] as string) : "10000,100000").split(",").map(Number);
  const cluster = await startCluster();
  // A bench cluster keeps PostgreSQL's durable defaults: the test cluster's fsync=off would flatter it.
  psql(cluster, "ALTER SYSTEM SET fsync = on");
  psql(cluster, "ALTER SYSTEM SET synchronous_commit = on");
  psql(cluster, "ALTER SYSTEM SET full_page_writes = on");
  psql(cluster, "SELECT pg_reload_conf()");
  const pgUrl = () => {
    const name = `bench_${crypto.randomBytes(4).toString("hex")}`;
    psql(cluster, `CREATE DATABASE ${name} OWNER paidup_test`);
    return databaseUrl(cluster, name);
  };
  const rows: Row[] = [];
  try {
    for (const size of sizes) {
      for (const backend of ["sqlite", "postgres"] as const) {
        process.stderr.write(`${backend} at ${size}…\n`);
        rows.push(await scenario(backend, size, pgUrl));
      }
    }
  } finally {
    cluster.stop();
  }
  const ms = (x: number) => Math.round(x).toString();
  const lines = [
    `machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "?"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${execSync("uname -r", { encoding: "utf8" }).trim()}, PostgreSQL 15 local (unix socket dir, TCP 127.0.0.1), fsync on`,
    "",
    "| history | backend | move-ledger wall ms | steady pass wall ms | steady CPU ms | 500 new: wall ms | 500 new: CPU ms | ledger claim+commit /s, 1 at a time | 8 at once |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.size / 1000}k | ${r.backend} | ${r.move ? ms(r.move.wallMs) : "-"} | ${ms(r.steady.wallMs)} | ${ms(r.steady.userMs + r.steady.sysMs)} | ${ms(r.deliver500.wallMs)} | ${ms(r.deliver500.userMs + r.deliver500.sysMs)} | ${ms(r.claimsSerial)} | ${ms(r.claimsParallel)} |`,
    ),
  ];
  process.stdout.write(lines.join("\n") + "\n");
  fs.writeFileSync(`${__dirname}/last-ledgers.md`, lines.join("\n") + "\n");
}

void main();
