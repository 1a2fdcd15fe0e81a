import type { Clock } from "../clock";

/**
 * Room left under the allowed rate: the window paidup counts in is this much longer than
 * Resend's. Send starts here and arrivals there differ by network jitter; without the margin a
 * request that travels a little faster than the one it follows lands in the same window and
 * earns a 429. Each 429 widens it (a busy machine has more jitter, and other processes may be
 * sending for the team too); each accepted send narrows it back, slowly.
 */
const MIN_MARGIN = 0.02;
const MAX_MARGIN = 0.25;
const MARGIN_STEP_UP = 0.01;
const MARGIN_STEP_DOWN = 0.001;
/** How long a 429 holds sends when Resend says nothing about when to come back. */
const DEFAULT_HOLD_MS = 1000;

interface Waiter {
  grant: () => void;
}

export type RateHeaders = Record<string, string> | null | undefined;

/**
 * Paces sends under Resend's rate limit, which other processes of the team share. The allowed
 * rate is the config's ceiling (`resend.maxPerSecond`), or Resend's `ratelimit-limit` when that
 * is lower. Within it, a sliding window: at most `limit` sends start in any window of a second
 * (plus the margin). That is a token bucket that never lends a token twice in one window, so a
 * send held back by a busy event loop (a durable commit, a slow disk) is made up at once instead
 * of lost, and the ceiling holds in every window. Resend's answers are the truth about the
 * team's budget: `ratelimit-remaining: 0` holds every send until `ratelimit-reset` (fractions of
 * a second kept), and a 429 holds them until Resend says a slot is free. Waiters are served in
 * arrival order by one timer at a time.
 */
export class Pacer {
  private allowedPerSecond: number;
  private margin = MIN_MARGIN;
  /** Whether an answer has told us Resend's limit yet. */
  private heard = false;
  /**
   * The sends of the current window. A turn granted counts from its grant until its request
   * really starts (`sending`), then from that moment: the claim's durable commit between the
   * two can take tens of milliseconds on a busy disk, and Resend counts arrivals, not grants.
   */
  private starts: { at: number; granted: boolean }[] = [];
  private heldUntil = 0;
  private lastGrant = -Infinity;
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

  /**
   * Sends allowed per window, and the window's length. A whole rate counts per second; any
   * other (0.5/s, 2.5/s) one send per 1/rate, so no second ever holds more than the rate. Until
   * Resend's first answer tells its limit (perhaps lower than ours), sends are spaced, not burst.
   */
  private get window(): { sends: number; ms: number } {
    const rate = this.allowedPerSecond;
    const sends = this.heard && Number.isInteger(rate) && rate >= 1 ? rate : 1;
    return { sends, ms: ((1000 * sends) / rate) * (1 + this.margin) };
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

  /** Learns from the headers of any Resend answer, 2xx or not (`accepted`: Resend took it). */
  observe(headers: RateHeaders, accepted = false): void {
    if (accepted) this.margin = Math.max(MIN_MARGIN, this.margin - MARGIN_STEP_DOWN);
    if (!headers) return;
    const limit = Number(headers["ratelimit-limit"]);
    const remaining = Number(headers["ratelimit-remaining"]);
    if (headers["ratelimit-limit"] !== undefined || headers["ratelimit-remaining"] !== undefined) {
      this.seen = { limit: Number.isFinite(limit) ? limit : null, remaining: Number.isFinite(remaining) ? remaining : null };
    }
    if (Number.isFinite(limit) && limit > 0) {
      this.heard = true;
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
    // Resend did not admit it, so it takes no place in the window; the hold below keeps the pace.
    const i = this.starts.findIndex((e) => !e.granted);
    if (i >= 0) this.starts.splice(i, 1);
    this.margin = Math.min(MAX_MARGIN, this.margin + MARGIN_STEP_UP);
    const resetMs = Number(headers?.["ratelimit-remaining"]) === 0 ? resetHeaderMs(headers) : undefined;
    this.hold(resetMs ?? retryAfterMs ?? DEFAULT_HOLD_MS);
  }

  /** A granted turn that no request followed: it leaves the window. */
  unused(): void {
    for (let i = this.starts.length - 1; i >= 0; i--) {
      if (this.starts[i]?.granted) {
        this.starts.splice(i, 1);
        return;
      }
    }
  }

  /** A request granted a turn goes out now (the oldest such turn is taken to be this one). */
  sending(): void {
    const now = this.clock.now();
    const turn = this.starts.find((e) => e.granted);
    if (turn) Object.assign(turn, { at: now, granted: false });
    else this.starts.push({ at: now, granted: false });
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
        // The window is read now, not at the last grant: a lower limit learned meanwhile applies.
        const window = this.window;
        this.starts = this.starts.filter((e) => e.at > now - window.ms).sort((a, b) => a.at - b.at);
        const over = this.starts.length - window.sends;
        // Full: the next send waits until enough of this window's sends have left it.
        // Making up for a late send happens at twice the pace at most, not in one burst: bursts
        // arrive bunched, and a bunch is what earns a 429 from a window that counts arrivals.
        const spaced = this.lastGrant + window.ms / window.sends / 2;
        const at = Math.max(this.heldUntil, spaced, over >= 0 ? (this.starts[over] as { at: number }).at + window.ms : -Infinity);
        // Re-checked after every sleep: an answer may have brought a hold in meanwhile.
        if (at > now) {
          await this.clock.sleep(at - now, pumping.signal);
          continue;
        }
        this.starts.push({ at: now, granted: true });
        this.lastGrant = now;
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
