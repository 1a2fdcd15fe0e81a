// Resend's per-team rate limit as the fake server counts it: which requests it admits and the
// `ratelimit-*` headers it answers with. Kept apart from the HTTP fake so a pacing simulation on
// a virtual clock (test/helpers/pacing-sim.ts) counts exactly as the server does.

/**
 * How the window counts and how `ratelimit-reset` is written.
 * - `window: "sliding"`: at most `rate` admitted in any second (the last 1000 ms); `"fixed"`: at
 *   most `rate` in each whole second of the clock, the count starting again at every second.
 * - `reset: "whole"`: delta-seconds, an integer, as the IETF RateLimit draft (and Resend) write
 *   it; `"fraction"`: to the millisecond (what this fake sent before wave 3).
 */
export interface RateMode {
  window: "sliding" | "fixed";
  reset: "whole" | "fraction";
}

/** What Resend does (FACTS.md, wave 3): a sliding window, `ratelimit-reset` in whole seconds. */
export const RESEND_LIKE: RateMode = { window: "sliding", reset: "whole" };
/** The other extreme: a fixed window per clock second, `ratelimit-reset` to the millisecond. */
export const FIXED_FRACTIONAL: RateMode = { window: "fixed", reset: "fraction" };
/** This fake's behaviour before wave 3 (still the default, so existing tests keep their meaning). */
export const SLIDING_FRACTIONAL: RateMode = { window: "sliding", reset: "fraction" };

export const RATE_MODES: Record<string, RateMode> = {
  "sliding/whole": RESEND_LIKE,
  "sliding/fraction": SLIDING_FRACTIONAL,
  "fixed/whole": { window: "fixed", reset: "whole" },
  "fixed/fraction": FIXED_FRACTIONAL,
};

export function modeName(mode: RateMode): string {
  return `${mode.window}/${mode.reset}`;
}

export class RateWindow {
  /** Clock readings of the requests admitted in the current window (sliding: the last second). */
  private readonly admitted: number[] = [];
  private fixedStart = -Infinity;

  constructor(public rate: number, public mode: RateMode, private readonly now: () => number) {}

  /** Takes a slot and returns true, or returns false: the request gets a 429. */
  admit(): boolean {
    this.prune();
    if (this.admitted.length >= this.rate) return false;
    this.admitted.push(this.now());
    return true;
  }

  /** `ratelimit-*` headers as they stand now (after this request's admission, if any). */
  headers(): Record<string, string> {
    this.prune();
    const limit = Number.isFinite(this.rate) ? Math.floor(this.rate) : 1_000_000;
    const resetMs = this.resetMs();
    return {
      "ratelimit-policy": `${limit};w=1`,
      "ratelimit-limit": String(limit),
      "ratelimit-remaining": String(Math.max(0, limit - this.admitted.length)),
      "ratelimit-reset": this.mode.reset === "whole" ? String(Math.ceil(resetMs / 1000)) : (resetMs / 1000).toFixed(3),
    };
  }

  /** A 429's `retry-after`: whole seconds (HTTP), at least 1. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.resetMs() / 1000));
  }

  private prune(): void {
    const now = this.now();
    if (this.mode.window === "fixed") {
      const start = Math.floor(now / 1000) * 1000;
      if (start !== this.fixedStart) {
        this.fixedStart = start;
        this.admitted.length = 0;
      }
      return;
    }
    const cutoff = now - 1000;
    while ((this.admitted[0] ?? Infinity) <= cutoff) this.admitted.shift();
  }

  /**
   * Sliding: until the oldest admitted request leaves the window (the next slot frees); fixed:
   * until the window ends. 0 when nothing is counted.
   */
  private resetMs(): number {
    if (this.admitted.length === 0) return 0;
    if (this.mode.window === "fixed") return this.fixedStart + 1000 - this.now();
    return Math.max(0, (this.admitted[0] as number) + 1000 - this.now());
  }
}
