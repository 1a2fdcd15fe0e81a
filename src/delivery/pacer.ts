import type { Clock } from "../clock";

/**
 * Room left under the allowed rate. The send clock and Resend's window clock differ by network
 * jitter and timer lateness: spacing sends exactly 1/rate apart would let one late request and
 * the next on-time one land in the same window and earn a 429.
 */
const SPACING_MARGIN = 0.02;
/** A timer that fires late may be caught up by this much on the next slot, never more. */
const MAX_CATCH_UP_MS = 10;
/** How long a 429 holds sends when Resend says nothing about when to come back. */
const DEFAULT_HOLD_MS = 1000;

interface Waiter {
  grant: () => void;
}

export type RateHeaders = Record<string, string> | null | undefined;

/**
 * Paces sends under Resend's rate limit as a token bucket of one token, refilled at the allowed
 * rate: the config's ceiling (`resend.maxPerSecond`), or Resend's `ratelimit-limit` when that is
 * lower. Resend's answers are the truth about the team's budget, which other processes share:
 * `ratelimit-remaining: 0` holds every send until `ratelimit-reset` (fractions of a second kept),
 * and a 429 holds them until Resend says a slot is free. Waiters are served in arrival order by
 * one timer at a time.
 */
export class Pacer {
  private allowedPerSecond: number;
  /** When the last token was due: the next is due one interval later (GCRA's arrival time). */
  private lastSlot = -Infinity;
  private heldUntil = 0;
  private readonly queue: Waiter[] = [];
  private pumping: AbortController | null = null;
  /** Resend's `ratelimit-limit` and `ratelimit-remaining` on its last answer, for /metrics. */
  private seen: { limit: number | null; remaining: number | null } | null = null;

  constructor(private readonly clock: Clock, private readonly ceilingPerSecond: number) {
    this.allowedPerSecond = ceilingPerSecond;
  }

  /** Sends per second this process may make now. */
  get ratePerSecond(): number {
    return this.allowedPerSecond;
  }

  /** Milliseconds between send starts. */
  get intervalMs(): number {
    return (1000 / this.allowedPerSecond) * (1 + SPACING_MARGIN);
  }

  /** Resolves when this caller may start a request (or at once when `signal` aborts). */
  turn(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      // A stop request releases the waiter at once instead of holding shutdown for its slot.
      const onAbort = () => this.drop(waiter);
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(waiter);
      if (!this.pumping || this.pumping.signal.aborted) void this.pump();
    });
  }

  /** What Resend last said about its rate limit; null before any answer carried the headers. */
  get lastSeen(): { limit: number | null; remaining: number | null } | null {
    return this.seen;
  }

  /** Learns from the headers of any Resend answer, 2xx or not. */
  observe(headers: RateHeaders): void {
    if (!headers) return;
    const limit = Number(headers["ratelimit-limit"]);
    const remaining = Number(headers["ratelimit-remaining"]);
    if (headers["ratelimit-limit"] !== undefined || headers["ratelimit-remaining"] !== undefined) {
      this.seen = { limit: Number.isFinite(limit) ? limit : null, remaining: Number.isFinite(remaining) ? remaining : null };
    }
    if (Number.isFinite(limit) && limit > 0) {
      const windowS = Number(/w=(\d+(?:\.\d+)?)/.exec(headers["ratelimit-policy"] ?? "")?.[1] ?? 1) || 1;
      this.allowedPerSecond = Math.min(this.ceilingPerSecond, limit / windowS);
    }
    const resetMs = resetHeaderMs(headers);
    if (Number(headers["ratelimit-remaining"]) === 0 && resetMs !== undefined) this.hold(resetMs);
  }

  /**
   * A 429: Resend did not take the request. Nobody sends before the window has a free slot:
   * `ratelimit-reset` on the answer says when to the millisecond; `retry-after` is whole seconds.
   */
  rateLimited(headers: RateHeaders, retryAfterMs: number | undefined): void {
    const resetMs = Number(headers?.["ratelimit-remaining"]) === 0 ? resetHeaderMs(headers) : undefined;
    this.hold(resetMs ?? retryAfterMs ?? DEFAULT_HOLD_MS);
  }

  /** No send starts for `ms` from now. */
  hold(ms: number): void {
    this.heldUntil = Math.max(this.heldUntil, this.clock.now() + ms);
  }

  private drop(waiter: Waiter): void {
    const i = this.queue.indexOf(waiter);
    if (i >= 0) this.queue.splice(i, 1);
    waiter.grant();
    if (this.queue.length === 0) this.pumping?.abort();
  }

  private async pump(): Promise<void> {
    const pumping = (this.pumping = new AbortController());
    try {
      while (this.queue.length > 0 && !pumping.signal.aborted) {
        const now = this.clock.now();
        // The interval is read now, not at the last grant: a lower limit learned meanwhile applies.
        const at = Math.max(this.lastSlot + this.intervalMs, this.heldUntil);
        // Re-checked after every sleep: an answer may have brought a hold in meanwhile.
        if (at > now) {
          await this.clock.sleep(at - now, pumping.signal);
          continue;
        }
        // After a pause the bucket holds one token, not a backlog of them.
        this.lastSlot = now - at > this.intervalMs ? now : Math.max(at, now - MAX_CATCH_UP_MS);
        this.queue.shift()?.grant();
      }
    } finally {
      if (this.pumping === pumping) this.pumping = null;
    }
  }
}

/** `ratelimit-reset` in milliseconds, fractions kept; undefined when absent or unreadable. */
function resetHeaderMs(headers: RateHeaders): number | undefined {
  const raw = headers?.["ratelimit-reset"];
  if (raw === undefined || raw.trim() === "") return undefined;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
