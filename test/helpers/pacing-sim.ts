import dc from "node:diagnostics_channel";
import type { Resend } from "resend";
import type { Clock } from "../../src/clock";
import { Mailer } from "../../src/delivery/mailer";
import type { SendablePayload } from "../../src/delivery/payload";
import { SendPool } from "../../src/pass/send-pool";
import { RateWindow, type RateMode } from "../fakes/rate-window";

// Passes sending against Resend's rate window on a virtual clock: paidup's own Mailer, Pacer
// and SendPool, with the Resend client replaced by one that counts arrivals in the fake's
// RateWindow and answers after `latencyMs` of virtual time. Deterministic (seeded jitter) and
// fast, so a test can take a rate to the percent without timing anything real.

/** A clock whose time moves only when everything runnable has run: to the next sleep's end. */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers: { at: number; seq: number; fire: () => void }[] = [];

  constructor(start: number) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve();
      const timer = {
        at: this.t + ms, seq: this.seq++,
        fire: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.timers.indexOf(timer);
        if (i >= 0) this.timers.splice(i, 1);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.timers.push(timer);
    });
  }

  /** Time passes with nothing else running: an event loop held by a slow commit. */
  stall(ms: number): void {
    this.t += ms;
  }

  /** Runs until `work` settles, moving time from one timer to the next whenever all is idle. */
  async run<T>(work: Promise<T>): Promise<T> {
    let finished = false;
    const tracked = work.finally(() => (finished = true));
    tracked.catch(() => undefined);
    while (!finished) {
      await idle();
      if (finished) break;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) throw new Error("virtual clock: nothing to wait for, and the work is not done");
      this.t = Math.max(this.t, next.at);
      next.fire();
    }
    return tracked;
  }
}

/** Lets every promise chain that can run, run (no real I/O happens in a simulation). */
async function idle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Seeded jitter, so a simulation is the same every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimOptions {
  /** Requests Resend admits per second. */
  allowed: number;
  mode: RateMode;
  latencyMs: number;
  /** The config's `resend.maxPerSecond`. */
  ceiling: number;
  /** Emails to deliver in all. */
  sends: number;
  /** Passes at once, each with its own Mailer (own pacer), sharing the work like claims do. */
  passes?: number;
  /** Up to this many ms between a request leaving paidup and reaching Resend (uniform). */
  jitterMs?: number;
  /**
   * How late each pass's first requests leave after the pacer let them start (a process's first
   * requests wait for fetch to load and for start-up work on the event loop: 60-440 ms on the
   * bench, 2026-12-02). Their departure is told the way Node's fetch tells it, on undici's
   * `undici:client:sendHeaders` channel.
   */
  departDelaysMs?: number[];
  /** Up to this many ms a pass starts after the first (uniform). */
  startSpreadMs?: number;
  seed?: number;
  /**
   * Each pass has its own `sends` emails (other senders of the team with work of their own)
   * instead of all passes sharing one set through claims.
   */
  ownWork?: boolean;
}

export interface SimArrival {
  at: number;
  pass: number;
  admitted: boolean;
  /** The sending pass's pace (sends/s) when the request arrived. */
  pace: number;
}

export interface SimResult {
  arrivals: SimArrival[];
  /** (n − 1) / (span × allowed) over the admitted requests: 1 is all a window allows. */
  share: number;
  rateLimited: number;
  /**
   * Most admitted requests in one of the server's windows: any 1000 ms (sliding), or one second
   * of its clock (fixed).
   */
  peakPerSecond: number;
  durationMs: number;
}

const T0 = Date.UTC(2026, 11, 2, 21, 0, 0);
/** Where Node's fetch (undici) says a request's headers were written to the socket. */
const departed = dc.channel("undici:client:sendHeaders");

export async function simulate(o: SimOptions): Promise<SimResult> {
  const clock = new VirtualClock(T0);
  const window = new RateWindow(o.allowed, o.mode, () => clock.now());
  const rand = random(o.seed ?? 1);
  const arrivals: SimArrival[] = [];
  const passes = o.passes ?? 1;
  // The work, shared like the ledger's claims: a charge is taken by whoever claims it first.
  const shared = new Array<boolean>(o.sends).fill(false);

  const mailers: Mailer[] = [];
  const client = (pass: number) => {
    let requests = 0;
    return {
      emails: {
        send: async (_payload: unknown, options?: { idempotencyKey?: string }) => {
          const departDelay = o.departDelaysMs?.[requests++] ?? 0;
          if (departDelay > 0) await clock.sleep(departDelay);
          departed.publish({ request: { method: "POST", path: "/emails" }, headers: `authorization: Bearer re_sim\r\nidempotency-key: ${options?.idempotencyKey ?? ""}\r\n` });
          await clock.sleep(rand() * (o.jitterMs ?? 0));
          const admitted = window.admit();
          arrivals.push({ at: clock.now(), pass, admitted, pace: mailers[pass]?.pacer.pacePerSecond ?? NaN });
          const headers = admitted ? window.headers() : { ...window.headers(), "retry-after": String(window.retryAfterSeconds()) };
          await clock.sleep(o.latencyMs);
          return admitted
            ? { data: { id: `em_${arrivals.length}` }, error: null, headers }
            : { data: null, error: { name: "rate_limit_exceeded", statusCode: 429, message: "Too many requests" }, headers };
        },
      },
    } as unknown as Resend;
  };

  const runPass = async (pass: number) => {
    if (o.startSpreadMs) await clock.sleep(rand() * o.startSpreadMs);
    const mailer = new Mailer(client(pass), clock, o.ceiling, 30_000, () => clock.now());
    mailers[pass] = mailer;
    const pool = new SendPool(() => mailer.inFlightTarget);
    const claimed = o.ownWork ? new Array<boolean>(o.sends).fill(false) : shared;
    const payload = { from: "Shop <shop@example.com>", to: "b@example.com", subject: "s", text: "t" } as unknown as SendablePayload;
    for (let i = 0; i < o.sends; i++) {
      if (claimed[i]) continue; // the pass's read of the ledger: someone else has it
      await pool.add(`c${i}`, async () => {
        await mailer.waitTurn();
        if (claimed[i]) return mailer.turnUnused(); // claimed elsewhere between the read and the claim
        claimed[i] = true;
        const r = await mailer.send(payload, `k${i}`);
        if (!r.ok) throw new Error(`send ${i} failed: ${JSON.stringify(r)}`);
      });
    }
    await pool.drain();
  };

  await clock.run(Promise.all(Array.from({ length: passes }, (_, p) => runPass(p))));
  const ok = arrivals.filter((a) => a.admitted).map((a) => a.at);
  const span = (ok[ok.length - 1] ?? 0) - (ok[0] ?? 0);
  let peak = 0;
  if (o.mode.window === "fixed") {
    const perSecond = new Map<number, number>();
    for (const t of ok) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    peak = Math.max(0, ...perSecond.values());
  } else {
    for (let lo = 0, hi = 0; hi < ok.length; hi++) {
      while ((ok[hi] as number) - (ok[lo] as number) >= 1000) lo++;
      peak = Math.max(peak, hi - lo + 1);
    }
  }
  return {
    arrivals,
    share: span > 0 ? (ok.length - 1) / ((span / 1000) * o.allowed) : NaN,
    rateLimited: arrivals.length - ok.length,
    peakPerSecond: peak,
    durationMs: clock.now() - T0,
  };
}
