import os from "node:os";
import { modeName, type RateMode } from "../test/fakes/rate-window";
import { paidCharge, Workspace } from "./harness";

// Sends against a fake Resend that admits `allowed` requests per second (sliding or fixed
// window, `ratelimit-reset` in whole seconds or fractions: test/fakes/rate-window.ts) and answers
// after `latencyMs`, with Resend's ratelimit-* headers: how much of the allowed rate one pass
// uses, and how several passes at once share it. Every figure comes from the real CLI.

/** The config's ceiling in every cell: above every allowance, so Resend's headers set the pace. */
export const PACING_CEILING = 10;

export interface PacingCell {
  latencyMs: number;
  allowed: number;
  passes: number;
  charges: number;
  mode: string;
  /** os.loadavg() (1 min) when the cell ended. */
  load1: number;
  /** Emails sent per second over the sending span, as a share of `allowed`. */
  share: number;
  /** Seconds from the first accepted send to the last. */
  spanS: number;
  rateLimited: number;
  failed: number;
  emailedTwice: number;
}

/**
 * One cell: `charges` paid charges, `passes` reconcile processes started together. The share is
 * taken on the fake's own arrival times of the accepted sends: n sends at the allowed rate span
 * (n − 1)/allowed seconds, so share = (n − 1) / (span × allowed). CLI start-up and the Stripe
 * listing fall outside the span.
 */
export async function pacingCell(latencyMs: number, allowed: number, charges: number, passes: number, mode: RateMode): Promise<PacingCell> {
  const ws = await Workspace.start(`pace-${latencyMs}-${allowed}-${passes}-${mode.window}-${mode.reset}`, { resend: { ratePerSecond: allowed, latencyMs, rateMode: mode }, maxPerSecond: PACING_CEILING });
  try {
    const created = Math.floor(Date.now() / 1000) - 60;
    ws.stripe.bulkAddCharges(charges, (i) => paidCharge(i, created));
    await ws.runOk(["init", "--since", new Date((created - 1) * 1000).toISOString()]);
    ws.resend.resetCounters();
    // Passes beside each other only share the work through the ledger's claims (exit 1 when a
    // charge was in flight elsewhere and is reported there).
    const runs = Array.from({ length: passes }, () => ws.spawnMeasured(["reconcile"], {}).done);
    const results = await Promise.all(runs);
    for (const r of results) if (r.code !== 0 && r.code !== 1) throw new Error(`reconcile exited ${r.code}: ${r.stderr}`);
    const accepted = ws.resend.requests.filter((r) => r.method === "POST" && r.path === "/emails" && r.status === 200).map((r) => r.rateAt).sort((a, b) => a - b);
    const spanMs = (accepted[accepted.length - 1] ?? 0) - (accepted[0] ?? 0);
    const sends = [...ws.resend.sendsByKey().values()];
    return {
      latencyMs, allowed, passes, charges, mode: modeName(mode), load1: os.loadavg()[0] as number,
      share: spanMs > 0 ? (accepted.length - 1) / ((spanMs / 1000) * allowed) : NaN,
      spanS: spanMs / 1000,
      rateLimited: ws.resend.rateLimitedCount(),
      failed: charges - sends.length,
      emailedTwice: sends.filter((n) => n > 1).length,
    };
  } finally {
    await ws.close();
  }
}
