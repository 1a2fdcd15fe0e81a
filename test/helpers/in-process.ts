import crypto from "node:crypto";
import path from "node:path";
import { ManualClock } from "../../src/clock";
import { loadConfig } from "../../src/config";
import { ChargeRow, createLedger, Ledger } from "../../src/ledger";
import type { Logger } from "../../src/log";
import { Mailer } from "../../src/delivery/mailer";
import type { PassDeps } from "../../src/pass/pass-deps";
import { PassReport, reconcileOnce } from "../../src/pass/reconcile";
import { runPass } from "../../src/pass/run-pass";
import { StripeSource, stripeClient } from "../../src/stripe/stripe-source";
import { freshDatabase } from "./postgres";
import { BACKEND, RESEND_KEY, Shop, STRIPE_KEY } from "./shop";
import { PATIENCE_MS } from "./wait";

// A pass run inside the test process: the real SDKs against the shop's fakes, a real ledger
// file, and a ManualClock, so "an hour later" is one `clock.advance` instead of an hour.

const nothing = () => undefined;
/** The in-process pass logs nowhere: the test asserts on the ledger, not on log lines. */
const quiet = { info: nothing, warn: nothing, error: nothing, debug: nothing } as unknown as Logger;

export interface InProcessOptions {
  /** Unix seconds of the ledger's start line (and first watermark). Default: an hour before `nowMs`. */
  startLine?: number;
  /** Where the clock starts (ms). The listing's `created[lte]` is this second, so keep it near the charges. */
  nowMs?: number;
  /** Base timeout of a Resend request (the mailer's default is 30 s). */
  resendTimeoutMs?: number;
  /** Overrides config.resend.maxPerSecond. */
  maxPerSecond?: number;
  /** The pass's clock (default: a ManualClock at `nowMs`). */
  clock?: ManualClock;
}

export interface InProcess {
  deps: PassDeps;
  clock: ManualClock;
  ledger: Ledger;
  mailer: Mailer;
  /** reconcileOnce: the bare pass. */
  pass(): Promise<PassReport>;
  /** runPass: the pass plus its health record and alerts, as the CLI runs it. */
  runPass(): Promise<PassReport>;
  row(id: string): Promise<ChargeRow | undefined>;
  /** The environment that points the CLI at this same ledger (PAIDUP_DB, or PAIDUP_DATABASE_URL). */
  ledgerEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function inProcess(shop: Shop, opts: InProcessOptions = {}): Promise<InProcess> {
  const nowMs = opts.nowMs ?? Date.now();
  const clock = opts.clock ?? new ManualClock(nowMs);
  const config = loadConfig(shop.configPath);
  // A fresh ledger per builder, so tests in one file never see each other's rows.
  const dbPath = path.join(shop.dir, "state", `in-process-${crypto.randomBytes(4).toString("hex")}.db`);
  const databaseUrl = BACKEND === "postgres" ? (await freshDatabase()).url : undefined;
  const { ledger } = await createLedger({ dbPath, databaseUrl });
  const startLine = opts.startLine ?? Math.floor(nowMs / 1000) - 3600;
  await ledger.setMeta("start_line", String(startLine));
  await ledger.setMeta("watermark", String(startLine));
  await ledger.setMeta("mode", "test");
  const mailer = Mailer.create(RESEND_KEY, clock, opts.maxPerSecond ?? config.resend.maxPerSecond, shop.resend.url, opts.resendTimeoutMs);
  const deps: PassDeps = {
    ledger, clock, config, log: quiet, mailer,
    stripe: new StripeSource(stripeClient(STRIPE_KEY, shop.stripe.url), clock),
    owner: `test:${process.pid}:${crypto.randomBytes(3).toString("hex")}`,
  };
  return {
    deps, clock, ledger, mailer,
    pass: () => reconcileOnce(deps),
    runPass: () => runPass(deps),
    row: (id) => ledger.getCharge(id),
    ledgerEnv: databaseUrl ? { PAIDUP_DATABASE_URL: databaseUrl } : { PAIDUP_DB: dbPath },
    close: () => ledger.close(),
  };
}

/**
 * A ManualClock for pacing tests: before time moves on, every request the pass has started has
 * reached the fake Resend and been answered, so the fake stamps each request with the moment
 * the pacer let it go, and the pacer has read the answer's headers before its next decision.
 */
export class SettlingClock extends ManualClock {
  constructor(start: number, private readonly settled: () => boolean) {
    super(start);
  }

  override async sleep(ms: number): Promise<void> {
    // Only a guard against a request that never settles: a busy machine may take long.
    const deadline = Date.now() + PATIENCE_MS;
    for (let quiet = 0; quiet < 3 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      quiet = this.settled() ? quiet + 1 : 0;
    }
    await super.sleep(ms);
  }
}
