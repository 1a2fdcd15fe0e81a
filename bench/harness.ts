import { spawn, ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { FakeResend, FakeResendOptions } from "../test/fakes/fake-resend";
import { ChargeInput, FakeStripe } from "../test/fakes/fake-stripe";
import { DEFAULT_PRODUCTS, writeShopFiles } from "../test/helpers/shop";

// The bench's workshop: a temp folder with a config, templates and a product file, fake Stripe
// and Resend servers in this process on 127.0.0.1, and the real CLI run as a measured subprocess.

export const ROOT = path.resolve(__dirname, "..", "..");
export const BIN = path.join(ROOT, "bin", "paidup");
/** Runs a script in-process and writes its process.resourceUsage() on exit (see child.ts). */
const WRAPPER = path.join(__dirname, "child.js");
export const STRIPE_KEY = "sk_test_51BenchKeyForPaidup000000000abcd";
export const RESEND_KEY = "re_BenchResendKey_1234";

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size of the measured process, in MiB. */
  rssMiB: number;
  userMs: number;
  sysMs: number;
  stripeRequests: number;
  stripeListRequests: number;
  resendRequests: number;
}

/** Config as a small shop would write it: an alert address, the test shop's products. */
function shopConfig(maxPerSecond: number): Record<string, unknown> {
  return { from: "Shop <shop@example.com>", replyTo: "help@example.com", alertTo: "owner@example.com", resend: { maxPerSecond }, products: DEFAULT_PRODUCTS };
}

export interface WorkspaceOptions {
  /** The fake Resend's allowance and latency (default: no limit, no latency). */
  resend?: Omit<FakeResendOptions, "apiKey">;
  /** The config's resend.maxPerSecond (default 100, the most the config allows). */
  maxPerSecond?: number;
}

/** A paid charge that matches ship-fast by metadata and carries its buyer's email. */
export function paidCharge(i: number, created: number): ChargeInput {
  return {
    created,
    amount: 4900,
    metadata: { product: "ship-fast" },
    billing_details: { email: `buyer${i}@example.com`, name: `Buyer ${i}` },
  };
}

export class Workspace {
  readonly dir: string;
  readonly stripe = new FakeStripe({ apiKey: STRIPE_KEY });
  readonly resend: FakeResend;
  readonly dbPath: string;

  private constructor(label: string, opts: WorkspaceOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `paidup-bench-${label}-`));
    this.dbPath = path.join(this.dir, "state", "paidup.db");
    this.resend = new FakeResend({ apiKey: RESEND_KEY, ...opts.resend });
    writeShopFiles(this.dir);
    fs.writeFileSync(path.join(this.dir, "paidup.config.json"), JSON.stringify(shopConfig(opts.maxPerSecond ?? 100), null, 2));
  }

  static async start(label: string, opts: WorkspaceOptions = {}): Promise<Workspace> {
    const ws = new Workspace(label, opts);
    await Promise.all([ws.stripe.start(), ws.resend.start()]);
    return ws;
  }

  async close(): Promise<void> {
    await Promise.all([this.stripe.close(), this.resend.close()]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: this.dir,
      STRIPE_SECRET_KEY: STRIPE_KEY,
      RESEND_API_KEY: RESEND_KEY,
      STRIPE_API_BASE: this.stripe.url,
      RESEND_BASE_URL: this.resend.url,
      PAIDUP_CONFIG: path.join(this.dir, "paidup.config.json"),
      PAIDUP_DB: this.dbPath,
      LOG_LEVEL: "warn",
      ...extra,
    };
  }

  /** Starts `script args` under the measuring wrapper; `done` resolves with its figures. */
  spawnMeasured(args: string[], opts: { script?: string; env?: Record<string, string>; nodeArgs?: string[] } = {}): { child: ChildProcess; done: Promise<Measured> } {
    const usageFile = path.join(this.dir, `usage-${process.hrtime.bigint()}.json`);
    this.stripe.resetCounters();
    this.resend.resetCounters();
    const started = performance.now();
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), WRAPPER, usageFile, opts.script ?? BIN, ...args], {
      cwd: this.dir,
      env: this.env(opts.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<Measured>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => {
        const wallMs = performance.now() - started;
        let usage: NodeJS.ResourceUsage | null = null;
        try {
          usage = JSON.parse(fs.readFileSync(usageFile, "utf8")) as NodeJS.ResourceUsage;
        } catch {
          // The process died before its exit hook ran: figures stay NaN, the code says why.
        }
        resolve({
          code, stdout, stderr, wallMs,
          rssMiB: usage ? usage.maxRSS / 1024 : NaN,
          userMs: usage ? usage.userCPUTime / 1000 : NaN,
          sysMs: usage ? usage.systemCPUTime / 1000 : NaN,
          stripeRequests: this.stripe.requestCount(),
          stripeListRequests: this.stripe.requestCount({ method: "GET", path: "/v1/charges" }),
          resendRequests: this.resend.requestCount(),
        });
      });
    });
    return { child, done };
  }

  run(args: string[], opts: { script?: string; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<Measured> {
    return this.spawnMeasured(args, opts).done;
  }

  /** Like run, but a non-zero exit is a broken bench, not a figure. */
  async runOk(args: string[], opts: { script?: string; env?: Record<string, string>; nodeArgs?: string[]; allow?: number[] } = {}): Promise<Measured> {
    const m = await this.run(args, opts);
    if (m.code !== 0 && !(opts.allow ?? []).includes(m.code ?? -1)) {
      throw new Error(`${path.basename(opts.script ?? BIN)} ${args.join(" ")} exited ${m.code}\n${m.stdout}\n${m.stderr}`);
    }
    return m;
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/** Runs `fn` `reps` times and keeps the run with the median wall time (its other figures come with it). */
export async function medianRun(reps: number, fn: () => Promise<Measured>): Promise<Measured & { wallMsAll: number[] }> {
  const runs: Measured[] = [];
  for (let i = 0; i < reps; i++) runs.push(await fn());
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  const mid = sorted[(sorted.length - 1) >> 1] as Measured;
  return { ...mid, rssMiB: Math.max(...runs.map((r) => r.rssMiB)), wallMsAll: runs.map((r) => r.wallMs) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
