import type { Clock } from "../clock";

/**
 * Spaces sends under Resend's rate limit. Starts at the configured rate and follows the
 * `ratelimit-*` headers down (never up): Resend's limit is per team and may be lower than ours.
 */
export class Pacer {
  private intervalMs: number;
  private nextSlot = 0;
  private blockedUntil = 0;

  constructor(private readonly clock: Clock, maxPerSecond: number) {
    this.intervalMs = 1000 / maxPerSecond;
  }

  /** Waits for this caller's turn; turns are handed out in order, so concurrent callers queue. */
  async turn(signal?: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.nextSlot, this.blockedUntil);
    this.nextSlot = at + this.intervalMs;
    await this.clock.sleep(at - now, signal);
  }

  /** Learns from the headers of any Resend answer. */
  observe(headers: Record<string, string> | null): void {
    if (!headers) return;
    const limit = Number(headers["ratelimit-limit"]);
    if (Number.isFinite(limit) && limit > 0) this.intervalMs = Math.max(this.intervalMs, 1000 / limit);
    const remaining = Number(headers["ratelimit-remaining"]);
    const reset = Number(headers["ratelimit-reset"]);
    if (remaining === 0 && Number.isFinite(reset)) this.pause(reset * 1000);
  }

  /** A 429 told us to wait: nobody sends before then. */
  pause(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + ms);
  }

  get currentIntervalMs(): number {
    return this.intervalMs;
  }
}
