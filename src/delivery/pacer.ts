import type { Clock } from "../clock";
import { TeamShare } from "./team-share";

/**
 * Room left under the allowed rate: the window paidup counts in is this much longer than
 * Resend's. Send starts here and arrivals there differ by network jitter; without the margin a
 * request that travels a little faster than the one it follows lands in the same window and
 * earns a 429. A 429 that our own sends alone explain widens it (a busy machine has more
 * jitter); each accepted send narrows it back, slowly.
 */
const MIN_MARGIN = 0.02;
const MAX_MARGIN = 0.25;
const MARGIN_STEP_UP = 0.01;
const MARGIN_STEP_DOWN = 0.0002;
/** How long a 429 holds sends when Resend says nothing about when to come back. */
const DEFAULT_HOLD_MS = 1000;
/** How far back this process remembers its own starts, to compare with Resend's count. */
const HISTORY_MS = 10_000;
/**
 * Our starts this much older than a second still count as ours in Resend's count: on a busy
 * machine a request may leave tens of milliseconds after its start was recorded, and one of
 * ours mistaken for another sender's halves the pace (bench, 2026-12-02: 70 % at 10/s).
 * Counting one too many of ours only ever errs towards "nobody else".
 */
const OURS_SLACK_MS = 60;
/** Answers without `ratelimit-limit` after which the config's ceiling is taken as the limit. */
const UNHEARD_ANSWERS = 3;
/**
 * Until an answer tells Resend's limit: the lowest limit Resend has documented (FACTS.md), so the
 * first sends neither wait for the first answer (a process's first request is its slowest) nor
 * earn 429s from a team whose limit is below the config's ceiling.
 */
const UNHEARD_PER_SECOND = 2;
/** Making up for late starts reaches back this many slots at most, then the schedule starts over. */
const CATCH_UP_SLOTS = 2;

interface Waiter {
  grant: () => void;
  /** When it asked (clock time): one that asks after its slot has passed is not "late". */
  at: number;
}

export type RateHeaders = Record<string, string> | null | undefined;

/**
 * Paces sends under Resend's rate limit, which other processes of the team share.
 *
 * The allowed rate is the config's ceiling (`resend.maxPerSecond`), or Resend's
 * `ratelimit-limit` when that is lower. Sends are paced by this process's own clock: each start
 * has its slot on an even schedule, one every 1/limit s (plus the margin), and at most `limit`
 * start in any window of a second plus the margin, so the ceiling holds in every window. A send
 * held back by a busy event loop is made up (at twice the pace at most) instead of lost.
 *
 * Resend's headers are read as signals, not orders. `ratelimit-remaining: 0` is what a sliding
 * window says on nearly every answer to a client sending at exactly the limit, and Resend's
 * `ratelimit-reset` is whole seconds: waiting it out would lose most of each second. So
 * `remaining` is compared with our own sends in the window instead: sends in Resend's count that
 * are not ours mean another sender shares the limit, and TeamShare sets this process's part.
 * A 429 is the hard stop: nothing starts before its `retry-after`. Until the first answer tells
 * Resend's limit (perhaps lower than ours), sends go at 2/s, the lowest limit Resend documents.
 */
export class Pacer {
  private allowedPerSecond: number;
  private margin = MIN_MARGIN;
  /** This process's part of the team's rate, when others send too. */
  private readonly share = new TeamShare();
  /** Whether an answer has told us Resend's limit yet. */
  private heard = false;
  private answersWithoutLimit = 0;
  private limit: number | null = null;
  /**
   * The sends of the current window. A turn granted counts from its grant until its request
   * really starts (`sending`), then from that moment: the claim's durable commit between the
   * two can take tens of milliseconds on a busy disk, and Resend counts arrivals, not grants.
   */
  private starts: { at: number; granted: boolean }[] = [];
  /** Our requests' start times over the last HISTORY_MS, to tell our sends from others'. */
  private history: number[] = [];
  private heldUntil = 0;
  private lastGrant = -Infinity;
  /**
   * The next start's slot on the even schedule (one every 1/pace s). A waiter that was already
   * queued when its slot came but started late (a busy event loop) is made up for; one that
   * asked later starts a new schedule, so an idle spell is never spent as a burst.
   */
  private nextSlot = -Infinity;
  private readonly queue: Waiter[] = [];
  private pumping: AbortController | null = null;
  /** Resend's `ratelimit-limit` and `ratelimit-remaining` on its last answer, for /metrics. */
  private seen: { limit: number | null; remaining: number | null } | null = null;

  constructor(private readonly clock: Clock, private readonly ceilingPerSecond: number) {
    this.allowedPerSecond = ceilingPerSecond;
  }

  /** Sends per second Resend and the config allow (what other senders take aside). */
  get ratePerSecond(): number {
    return this.allowedPerSecond;
  }

  /** Sends per second this process paces at now. */
  get pacePerSecond(): number {
    return this.share.paceWithin(this.allowedPerSecond);
  }

  /**
   * Sends allowed per window, and the window's length. A whole rate counts per second; any
   * other (0.5/s, 2.5/s) one send per 1/rate, so no second ever holds more than
   * the rate. Until Resend's first answer tells its limit, sends are spaced, not burst.
   */
  private get window(): { sends: number; ms: number } {
    const rate = this.heard ? this.pacePerSecond : Math.min(this.pacePerSecond, UNHEARD_PER_SECOND);
    const sends = this.heard && Number.isInteger(rate) && rate >= 1 ? rate : 1;
    return { sends, ms: ((1000 * sends) / rate) * (1 + this.margin) };
  }

  /**
   * Resolves when this caller may start a request (or at once when `signal` aborts). `retry`:
   * the repeat of a request Resend refused with a 429, served before new sends (it holds a claim).
   */
  turn(signal?: AbortSignal, retry = false): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      // A stop request releases the waiter at once instead of holding shutdown for its slot.
      const onAbort = () => this.drop(waiter);
      const waiter: Waiter = {
        at: this.clock.now(),
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (retry) this.queue.unshift(waiter);
      else this.queue.push(waiter);
      this.wake();
    });
  }

  /** What Resend last said about its rate limit; null before any answer carried the headers. */
  get lastSeen(): { limit: number | null; remaining: number | null } | null {
    return this.seen;
  }

  /**
   * Learns from the headers of any Resend answer, 2xx or not (`accepted`: Resend took it).
   * `sentAt`: when that request started (what `sending` returned), to compare Resend's count
   * with our own sends of the same window.
   */
  observe(headers: RateHeaders, accepted = false, sentAt?: number): void {
    if (accepted) this.margin = Math.max(MIN_MARGIN, this.margin - MARGIN_STEP_DOWN);
    if (!headers?.["ratelimit-limit"] && !this.heard && ++this.answersWithoutLimit >= UNHEARD_ANSWERS) this.heard = true;
    if (!headers) return this.wake();
    const limit = Number(headers["ratelimit-limit"]);
    const remaining = Number(headers["ratelimit-remaining"]);
    if (headers["ratelimit-limit"] !== undefined || headers["ratelimit-remaining"] !== undefined) {
      this.seen = { limit: Number.isFinite(limit) ? limit : null, remaining: Number.isFinite(remaining) ? remaining : null };
    }
    if (Number.isFinite(limit) && limit > 0) {
      // The first answer may already show others in the window: start with the slots they left.
      const first = !this.heard;
      this.limit = limit;
      const windowS = Number(/w=(\d+(?:\.\d+)?)/.exec(headers["ratelimit-policy"] ?? "")?.[1] ?? 1) || 1;
      this.allowedPerSecond = Math.min(this.ceilingPerSecond, limit / windowS);
      this.heard = true;
      if (first) {
        // The next slot was set at the cautious pace before the limit was known: set it again.
        this.nextSlot = Math.min(this.nextSlot, this.lastGrant + this.window.ms / this.window.sends);
        this.pumping?.abort();
      }
      if (first && Number.isFinite(remaining)) this.share.firstAnswer(limit, this.othersIn(remaining, sentAt), this.allowedPerSecond, this.clock.now());
    }
    if (accepted && Number.isFinite(remaining)) this.share.accepted(remaining, this.othersIn(remaining, sentAt), this.allowedPerSecond, this.clock.now());
    this.wake();
  }

  /**
   * A 429: Resend did not take the request. The hard stop: nothing starts before `retry-after`
   * (whole seconds). When sends that are not ours filled the window, our pace halves; when
   * ours alone did, the margin widens instead (jitter brought two of ours too close).
   */
  rateLimited(headers: RateHeaders, retryAfterMs: number | undefined, sentAt?: number): void {
    // Resend did not admit it, so it takes no place in the window; the hold below keeps the pace.
    const i = this.starts.findIndex((e) => !e.granted);
    if (i >= 0) this.starts.splice(i, 1);
    if (sentAt !== undefined) {
      const j = this.history.lastIndexOf(sentAt);
      if (j >= 0) this.history.splice(j, 1);
    }
    let backoff = 1;
    if (this.othersIn(0, sentAt) > 0) backoff = this.share.refusedByOthers(this.allowedPerSecond, this.clock.now());
    else this.margin = Math.min(MAX_MARGIN, this.margin + MARGIN_STEP_UP);
    this.hold((retryAfterMs ?? DEFAULT_HOLD_MS) * backoff);
  }

  /** A granted turn that no request followed: it leaves the window, and its slot is given back. */
  unused(): void {
    this.nextSlot -= this.window.ms / this.window.sends;
    for (let i = this.starts.length - 1; i >= 0; i--) {
      if (this.starts[i]?.granted) {
        this.starts.splice(i, 1);
        break;
      }
    }
    this.wake();
  }

  /**
   * A request granted a turn goes out now (the oldest such turn is taken to be this one).
   * Returns the moment, for `observe` and `rateLimited`; every `sending` is followed by one of
   * those (a request that got no answer at all: `observe(null)`).
   */
  sending(): number {
    const now = this.clock.now();
    const turn = this.starts.find((e) => e.granted);
    if (turn) Object.assign(turn, { at: now, granted: false });
    else this.starts.push({ at: now, granted: false });
    this.history = this.history.filter((t) => t > now - HISTORY_MS);
    this.history.push(now);
    return now;
  }

  /**
   * The request `sending` recorded at `sentAt` really left at `at` (its headers reached the
   * socket): it counts in the window, and as ours, from then. Resend counts arrivals, and a
   * process's first requests leave 60-440 ms after their turn (fetch loading, start-up work on
   * the event loop: bench, 2026-12-02); counted from their turn, the request `limit` sends later
   * arrives inside their second and earns a 429, a whole second's hold. Returns the moment, to
   * pass to `observe` and `rateLimited` instead of `sentAt`.
   */
  departed(sentAt: number, at: number): number {
    if (at <= sentAt) return sentAt;
    const turn = this.starts.find((e) => !e.granted && e.at === sentAt);
    if (turn) turn.at = at;
    else this.starts.push({ at, granted: false });
    const i = this.history.lastIndexOf(sentAt);
    if (i >= 0) this.history[i] = at;
    return at;
  }

  /** No send starts for `ms` from now. */
  hold(ms: number): void {
    this.heldUntil = Math.max(this.heldUntil, this.clock.now() + ms);
  }

  /**
   * Sends in Resend's count that are not ours: its limit minus what remains minus our own starts
   * of the second before the request (or before now, whichever holds more of ours: Resend may
   * write its headers on arrival or on answering, and counting more of ours only ever errs
   * towards "nobody else"). Our starts may include some Resend no longer counts (a fixed window
   * starts afresh), which also errs that way.
   */
  private othersIn(remaining: number, sentAt: number | undefined): number {
    if (this.limit === null) return 0;
    const now = this.clock.now();
    const ours = Math.max(this.oursWithin(now), sentAt === undefined ? 0 : this.oursWithin(sentAt));
    return this.limit - remaining - ours;
  }

  private oursWithin(end: number): number {
    let n = 0;
    for (const t of this.history) if (t > end - 1000 - OURS_SLACK_MS && t <= end) n++;
    return n;
  }

  private wake(): void {
    if (this.queue.length > 0 && (!this.pumping || this.pumping.signal.aborted)) void this.pump();
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
        // Otherwise each start has its slot, one every 1/pace s. Making up for a late send happens
        // at twice the pace at most, not in one burst: bursts arrive bunched, and a bunch is what
        // earns a 429 from a window that counts arrivals.
        const every = window.ms / window.sends;
        const head = this.queue[0] as Waiter;
        const slot = head.at > this.nextSlot ? head.at : Math.max(this.nextSlot, now - CATCH_UP_SLOTS * every);
        const spaced = this.lastGrant + every / 2;
        const at = Math.max(this.heldUntil, slot, spaced, over >= 0 ? (this.starts[over] as { at: number }).at + window.ms : -Infinity);
        // Re-checked after every sleep: an answer may have brought a hold in meanwhile.
        if (at > now) {
          await this.clock.sleep(at - now, pumping.signal);
          continue;
        }
        this.starts.push({ at: now, granted: true });
        this.lastGrant = now;
        this.nextSlot = (head.at > this.nextSlot ? now : Math.max(this.nextSlot, now - CATCH_UP_SLOTS * every)) + every;
        this.queue.shift()?.grant();
      }
    } finally {
      if (this.pumping === pumping) this.pumping = null;
    }
  }
}
