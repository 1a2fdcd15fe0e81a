import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import Database from "better-sqlite3";
import { FakeDomain, FakeResend } from "../fakes/fake-resend";
import type { RateMode } from "../fakes/rate-window";
import { FakeStripe } from "../fakes/fake-stripe";
import { dropDatabase, execRows, freshDatabase, queryRows, TEST_PASSWORD } from "./postgres";

// A throwaway shop for one test file: a temp folder with a config, templates and product files,
// fake Stripe and Resend servers on 127.0.0.1, and the real CLI run as a subprocess.
// PAIDUP_TEST_BACKEND=postgres puts its ledger in a fresh PostgreSQL database instead of the
// SQLite file (`npm test` runs the suite once per backend).

export const BACKEND: "sqlite" | "postgres" = process.env.PAIDUP_TEST_BACKEND === "postgres" ? "postgres" : "sqlite";
/** For the few tests about the SQLite file itself (its bytes, modes, locks): skipped on Postgres. */
export const SQLITE_ONLY = BACKEND === "postgres" ? "about the SQLite file; the suite runs on postgres" : false;

export const STRIPE_KEY = "sk_test_51FakeKeyForPaidupTests0000abcd";
export const RESEND_KEY = "re_FakeResendKeyForTests_1234";
export const BIN = path.resolve(__dirname, "..", "..", "..", "bin", "paidup");

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Lines of CLI output that betray a stack trace: `    at fn (/path/file.js:1:2)`, an error
 * message followed by a file path, node's `/path/file.js:12` crash header, or our own
 * "unexpected failure". No user mistake may end in one (CONTRACT.md).
 */
export function stackTraceLines(text: string): string[] {
  const patterns = [
    /^\s+at\s.*(?:node:|file:\/\/|\/)[^\s()]*:\d+(?::\d+)?\)?\s*$/,
    /\b\w*Error\b.*[\s(](?:file:\/\/)?\/[^\s():]+\.(?:js|ts|mjs|cjs):\d+/,
    /^(?:file:\/\/)?\/[^\s:]+\.(?:js|ts|mjs|cjs):\d+$/,
    /unexpected failure/,
  ];
  return text.split("\n").filter((line) => patterns.some((p) => p.test(line)));
}

/** Fails the test when a CLI run printed a stack trace on stdout or stderr. */
export function assertNoStackTrace(r: RunResult, args: readonly string[]): void {
  const found = stackTraceLines(r.stdout + "\n" + r.stderr);
  if (found.length > 0) {
    throw new Error(`paidup ${args.join(" ")} printed a stack trace (exit ${r.code}):\n${found.slice(0, 5).join("\n")}\n--- stderr ---\n${r.stderr.slice(0, 4000)}`);
  }
}

export interface ShopOptions {
  /** Replaces or extends the default config file contents. */
  config?: Record<string, unknown>;
  resendRate?: number;
  resendNow?: () => number;
  /** Clock of the fake Resend's rate window (default real time). */
  resendRateNow?: () => number;
  resendLatencyMs?: number;
  /** How the fake Resend counts its rate window and writes `ratelimit-reset` (default sliding, fractions). */
  resendRateMode?: RateMode;
  /** The fake Resend team's domains (default: example.com, verified). */
  resendDomains?: FakeDomain[];
  /** A Resend testing account that may send only to this address. */
  resendTestingOwner?: string;
  /** Overrides PAIDUP_TEST_BACKEND, for tests about one backend. */
  backend?: "sqlite" | "postgres";
}

export const DEFAULT_PRODUCTS = [
  {
    key: "ship-fast",
    name: "Ship Fast Skill Pack",
    match: { metadata: { product: "ship-fast" } },
    subject: "Your {{product}}",
    text: "templates/ship-fast.txt",
    attachments: ["products/ship-fast.zip"],
  },
  {
    key: "starter",
    name: "Starter Pack",
    match: { price: "price_starter" },
    subject: "Your Starter Pack",
    html: "templates/starter.html",
    links: { download: "https://example.com/dl/starter" },
  },
  {
    key: "ebook",
    match: { amount: 1900, currency: "usd" },
    subject: "Your ebook",
    text: "templates/ebook.txt",
  },
];

/** The templates and product file that DEFAULT_PRODUCTS names, written into `dir`. */
export function writeShopFiles(dir: string): void {
  fs.mkdirSync(path.join(dir, "templates"));
  fs.mkdirSync(path.join(dir, "products"));
  fs.writeFileSync(path.join(dir, "templates", "ship-fast.txt"), "Hi {{name}}, here is {{product}} for {{amount}}. Ref {{charge}}.\n");
  fs.writeFileSync(path.join(dir, "templates", "starter.html"), '<p>Hi {{name}}</p><p><a href="{{links.download}}">Download</a> ({{amount}})</p>\n');
  fs.writeFileSync(path.join(dir, "templates", "ebook.txt"), "Your ebook, {{name}}.\n");
  fs.writeFileSync(path.join(dir, "products", "ship-fast.zip"), Buffer.alloc(2048, 7));
}

export interface RunOptions {
  /** Entries set to undefined are removed from the environment. */
  env?: Record<string, string | undefined>;
  onSpawn?: (pid: number) => void;
  /** Run as another user (the test must be root). */
  uid?: number;
  gid?: number;
  /** No file the CLI writes may grow past this many 512-byte blocks (a disk filling up). */
  fileSizeLimitBlocks?: number;
  /** Working directory (default: the shop's folder), e.g. a second host's. */
  cwd?: string;
  /** Filled with the output so far while the process runs, for a test waiting on a log line. */
  live?: { stdout: string; stderr: string };
  /** A command still running after this long is killed and the run fails (default RUN_LIMIT_MS). */
  limitMs?: number;
}

/**
 * No CLI run in a test takes near this long, even on a loaded machine (the longest, a pass over
 * 1,250 charges, takes under a minute there): one that does has hung, and fails with its output
 * so far instead of holding the test run until CI gives up on it.
 */
export const RUN_LIMIT_MS = 300_000;

export class Shop {
  readonly dir: string;
  readonly stripe: FakeStripe;
  readonly resend: FakeResend;
  readonly dbPath: string;
  readonly configPath: string;
  /** With the postgres backend: the ledger's database URL (with the test role's password) and name. */
  databaseUrl?: string;
  private pgName?: string;
  extraEnv: Record<string, string> = {};

  private constructor(opts: ShopOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-test-"));
    this.stripe = new FakeStripe({ apiKey: STRIPE_KEY });
    this.resend = new FakeResend({
      apiKey: RESEND_KEY, ratePerSecond: opts.resendRate, now: opts.resendNow, rateNow: opts.resendRateNow, latencyMs: opts.resendLatencyMs, rateMode: opts.resendRateMode,
      domains: opts.resendDomains, testingOwner: opts.resendTestingOwner,
    });
    this.dbPath = path.join(this.dir, "state", "paidup.db");
    this.configPath = path.join(this.dir, "paidup.config.json");
    writeShopFiles(this.dir);
    this.writeConfig({ from: "Shop <shop@example.com>", replyTo: "help@example.com", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS, ...opts.config });
  }

  static async start(opts: ShopOptions = {}): Promise<Shop> {
    const shop = new Shop(opts);
    await Promise.all([shop.stripe.start(), shop.resend.start()]);
    if ((opts.backend ?? BACKEND) === "postgres") {
      const { url, name } = await freshDatabase();
      shop.databaseUrl = url;
      shop.pgName = name;
    }
    return shop;
  }

  writeConfig(config: Record<string, unknown>): void {
    fs.writeFileSync(this.configPath, JSON.stringify(config, null, 2));
  }

  get env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: this.dir,
      STRIPE_SECRET_KEY: STRIPE_KEY,
      RESEND_API_KEY: RESEND_KEY,
      STRIPE_API_BASE: this.stripe.url,
      RESEND_BASE_URL: this.resend.url,
      PAIDUP_CONFIG: this.configPath,
      PAIDUP_DB: this.dbPath,
      ...(this.databaseUrl ? { PAIDUP_DATABASE_URL: this.databaseUrl } : {}),
      LOG_LEVEL: "warn",
      ...this.extraEnv,
    };
  }

  /** Runs the real CLI; `env` entries set to undefined are removed. */
  run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const env = { ...this.env, ...opts.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    return new Promise((resolve, reject) => {
      // A file size limit (ulimit -f, in 512-byte blocks) makes writes past it fail as on a full disk.
      const [command, argv] = opts.fileSizeLimitBlocks === undefined
        ? [process.execPath, [BIN, ...args]]
        : ["/bin/sh", ["-c", `ulimit -f ${opts.fileSizeLimitBlocks} && exec "$@"`, "sh", process.execPath, BIN, ...args]];
      const child = spawn(command, argv, { cwd: opts.cwd ?? this.dir, env, stdio: ["ignore", "pipe", "pipe"], uid: opts.uid, gid: opts.gid });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (opts.live) opts.live.stdout = stdout;
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (opts.live) opts.live.stderr = stderr;
      });
      child.on("error", reject);
      if (child.pid && opts.onSpawn) opts.onSpawn(child.pid);
      const limitMs = opts.limitMs ?? RUN_LIMIT_MS;
      let hung = false;
      const limit = setTimeout(() => {
        hung = true;
        child.kill("SIGKILL");
      }, limitMs);
      child.on("close", (code, signal) => {
        clearTimeout(limit);
        if (hung) return reject(new Error(`paidup ${args.join(" ")} was still running after ${limitMs} ms, killed:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
        const result = { code, signal, stdout, stderr };
        try {
          assertNoStackTrace(result, args);
          // The database password is a secret: no output of any command may show it.
          if ((stdout + stderr).includes(TEST_PASSWORD)) throw new Error(`paidup ${args.join(" ")} printed the database password:\n${stdout}\n${stderr}`);
        } catch (err) {
          return reject(err as Error);
        }
        resolve(result);
      });
    });
  }

  /** Read-only look at the ledger, as a test inspects it. */
  rows(): { id: string; state: string; reason: string | null; attempts: number; email_id: string | null; product: string | null; email: string | null }[] {
    return this.query("SELECT * FROM charges ORDER BY id");
  }

  /** A query on the ledger, on whichever backend holds it (synchronous, for test helpers). */
  query<T = Record<string, unknown>>(sql: string): T[] {
    if (this.pgName) return queryRows<T>(this.pgName, sql);
    const db = new Database(this.dbPath, { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  /** A write to the ledger behind paidup's back (simulating a crash's leftovers); returns rows changed. */
  exec(sql: string): number {
    if (this.pgName) return execRows(this.pgName, sql);
    const db = new Database(this.dbPath);
    try {
      return db.prepare(sql).run().changes;
    } finally {
      db.close();
    }
  }

  /** A digest of everything in the ledger's tables: equal before and after means nothing was written. */
  contentDigest(): string {
    const tables = this.pgName
      ? this.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'paidup_schema' ORDER BY 1").map((r) => r.name)
      : this.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1").map((r) => r.name);
    const dump = tables.map((t) => JSON.stringify(this.query(`SELECT * FROM ${t} ORDER BY 1`)));
    return crypto.createHash("sha256").update(dump.join("\n")).digest("hex");
  }

  /**
   * What "the ledger is unchanged" compares: the SQLite file's bytes (stricter than its rows),
   * or the PostgreSQL tables' contents.
   */
  ledgerSnapshot(): string {
    if (this.pgName) return this.contentDigest();
    return crypto.createHash("sha256").update(fs.readFileSync(this.dbPath)).digest("hex");
  }

  row(id: string) {
    return this.rows().find((r) => r.id === id);
  }

  async close(): Promise<void> {
    await Promise.all([this.stripe.close(), this.resend.close()]);
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.pgName) dropDatabase(this.pgName);
  }
}

/** A charge that matches the `ship-fast` product, paid and captured. */
export function paidCharge(extra: Record<string, unknown> = {}) {
  return {
    amount: 4900,
    currency: "usd",
    metadata: { product: "ship-fast" },
    billing_details: { email: "buyer@example.com", name: "Ada Buyer" },
    ...extra,
  };
}
