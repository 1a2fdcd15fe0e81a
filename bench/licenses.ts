import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { AddressInfo } from "node:net";
import { systemClock } from "../src/clock";
import type { Config } from "../src/config";
import { createLedger, Ledger } from "../src/ledger";
import type { Logger } from "../src/log";
import { WorkQueue } from "../src/http/event-queue";
import { buildApp } from "../src/http/server";
import { hashKey, makeKey, newLicenseId } from "../src/licenses/keys";
import type { PassDeps } from "../src/pass/pass-deps";
import { stripeClient } from "../src/stripe/stripe-source";
import { databaseUrl, psql, startCluster } from "../test/helpers/postgres";

// `node dist/bench/licenses.js [--seconds 5] [--clients 16] [--keys 10000]`: what one `serve`
// answers on POST /v1/licenses/validate (a hashed lookup, the charge's meta, an EdDSA
// certificate signed per answer), on SQLite and on PostgreSQL (a throwaway local cluster), with
// `--clients` requests in flight over keep-alive from this process. Each request comes from its
// own X-Forwarded-For address, so the per-client limit (60 a minute) does not cut the figure:
// this measures the server, not the limit.

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1] ?? dflt) || dflt;
const SECONDS = arg("seconds", 5);
const CLIENTS = arg("clients", 16);
const KEYS = arg("keys", 10_000);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
const config = { from: "Bench <bench@example.com>", products: [{ key: "app", name: "App", license: { activations: 3, expiresAfterMs: null, offlineForMs: 7 * 86_400_000, prefix: "BENCH" } }] } as unknown as Config;

async function seed(ledger: Ledger): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < KEYS; i++) {
    const key = makeKey("BENCH");
    keys.push(key);
    await ledger.issueLicense({ id: newLicenseId(), charge: `ch_bench_${i}`, product: "app", key, keyHash: hashKey(key), activationLimit: 3, expiresAfterMs: null, customerId: null }, Date.now());
  }
  return keys;
}

async function measure(backend: string, ledger: Ledger): Promise<{ backend: string; perSecond: number; p50: number; p99: number; errors: number }> {
  const keys = await seed(ledger);
  const deps = { ledger, config, clock: systemClock, log: quiet, mailer: null, owner: "bench" } as unknown as PassDeps;
  const app = buildApp({ host: "127.0.0.1", port: 0, stripeSecret: "whsec_bench", stripe: stripeClient("sk_test_bench", "http://127.0.0.1:9"), deps }, new WorkQueue(quiet));
  await app.listen({ host: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/licenses/validate`;
  let n = 0;
  let errors = 0;
  const latencies: number[] = [];
  const one = async () => {
    const i = n++;
    const t = performance.now();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-for": `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` },
      body: `license_key=${keys[i % keys.length]}`,
    });
    const body = (await res.json()) as { valid: boolean };
    if (res.status !== 200 || !body.valid) errors++;
    latencies.push(performance.now() - t);
  };
  // A short warm-up (JIT, the signing key, the pool), then the measured window.
  const warm = performance.now() + 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async () => { while (performance.now() < warm) await one(); }));
  n = 0; errors = 0; latencies.length = 0;
  const started = performance.now();
  const end = started + SECONDS * 1000;
  await Promise.all(Array.from({ length: CLIENTS }, async () => { while (performance.now() < end) await one(); }));
  const elapsed = (performance.now() - started) / 1000;
  await app.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round((latencies[Math.floor(p * (latencies.length - 1))] ?? 0) * 10) / 10;
  return { backend, perSecond: Math.round(latencies.length / elapsed), p50: q(0.5), p99: q(0.99), errors };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-bench-licenses-"));
  const rows = [];
  try {
    const sqlite = (await createLedger({ dbPath: path.join(dir, "paidup.db") })).ledger;
    rows.push(await measure("SQLite", sqlite));
    await sqlite.close();
    const cluster = await startCluster();
    try {
      const name = `bench_${crypto.randomBytes(4).toString("hex")}`;
      psql(cluster, `CREATE DATABASE ${name} OWNER paidup_test`);
      const pg = (await createLedger({ dbPath: "", databaseUrl: databaseUrl(cluster, name) })).ledger;
      rows.push(await measure("PostgreSQL", pg));
      await pg.close();
    } finally {
      cluster.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const load = os.loadavg().map((l) => l.toFixed(2)).join(", ");
  process.stdout.write(`validate, ${CLIENTS} in flight, ${SECONDS} s, ${KEYS} keys; load average (1, 5, 15 min) at the end: ${load}; ${os.cpus().length} cores\n`);
  process.stdout.write("| backend | validations/s | p50 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- |\n");
  for (const r of rows) process.stdout.write(`| ${r.backend} | ${r.perSecond} | ${r.p50} | ${r.p99} | ${r.errors} |\n`);
  process.stdout.write("| Lemon Squeezy (hosted limit) | 1 (60/min) | | | |\n| Polar (hosted limit) | 3 | | | |\n");
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
