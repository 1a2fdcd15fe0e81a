import { getMaxListeners, setMaxListeners } from "node:events";
import { onDeparture } from "./departures";
import { performance } from "node:perf_hooks";
import { CreateEmailOptions, Resend } from "resend";
import type { Clock } from "../clock";
import type { Metrics } from "../metrics";
import { Pacer } from "./pacer";
import type { SendablePayload } from "./payload";
import { debugEnabled, log } from "../log";
import { redact } from "../redact";
import { classifyResendError, retryAfterMs, SendResult } from "./send-result";

const BASE_TIMEOUT_MS = 30_000;
/** Large attachments take longer to upload from a small VPS: allow a second per MB. */
const TIMEOUT_MS_PER_MB = 1000;
/**
 * 429s are waited out inside the pass (same key, same payload) for this long in all, well inside
 * the claim's 5-minute lease: a 429 means "slow down", not "this charge failed".
 */
const RATE_LIMIT_PATIENCE_MS = 120_000;
/** The most sends kept in flight at once, whatever the rate and latency. */
const MAX_IN_FLIGHT = 32;
/** How often the request watchdog looks for requests past their deadline. */
const WATCHDOG_EVERY_MS = 100;
/** Until the first answer: Resend's API answers in a few hundred milliseconds. */
const FIRST_LATENCY_GUESS_MS = 300;
/** Weight of the newest answer in the running latency estimate. */
const LATENCY_WEIGHT = 0.2;
/** What a send answers when its replay deadline has passed before a request could start. */
const REPLAY_TOO_LATE: SendResult = {
  ok: false, retryable: false, outcomeUnknown: true,
  reason: "outcome of send unknown: an earlier try may have gone out, and Resend's 24 h idempotency window was about to close before it could be repeated",
};

/** Sends through Resend, paced under its rate limit, with a timeout on every request. */
export class Mailer {
  readonly pacer: Pacer;
  requests = 0;
  /** Where send latency is counted for /metrics, when someone looks. */
  metrics: Metrics | null = null;
  /** Running estimate of how long Resend takes to answer a send (ms). */
  private latencyMs: number | null = null;
  /** Until then Resend's daily or monthly quota is used up: sends are refused without a request. */
  private quota: { until: number; result: SendResult } | null = null;
  /** Requests in flight and when each must be abandoned (real time, like the network). */
  private readonly deadlines = new Map<AbortController, number>();
  private watchdog: NodeJS.Timeout | null = null;

  /**
   * `elapsed` reads the time a request takes (default real time, like the network): a pacing
   * simulation on a virtual clock passes that clock's `now`.
   */
  constructor(private readonly resend: Resend, private readonly clock: Clock, maxPerSecond: number, private readonly baseTimeoutMs = BASE_TIMEOUT_MS,
    private readonly elapsed: () => number = () => performance.now()) {
    this.pacer = new Pacer(clock, maxPerSecond);
  }

  /**
   * `baseUrl` defaults to RESEND_BASE_URL (read by the SDK), else Resend's own. `timeoutMs`
   * replaces the 30 s base timeout (tests of a hung Resend use a short one).
   */
  static create(apiKey: string, clock: Clock, maxPerSecond: number, baseUrl?: string, timeoutMs?: number): Mailer {
    return new Mailer(new Resend(apiKey, baseUrl ? { baseUrl } : undefined), clock, maxPerSecond, timeoutMs);
  }

  /** Waits for a send slot. Called before claiming, so a claim's lease is not spent queueing. */
  waitTurn(signal?: AbortSignal): Promise<void> {
    // Each send waiting its turn listens for the stop request: up to the pool's size at once,
    // plus status reads and sleeps. Without this Node prints a "possible leak" warning on
    // stderr at 11, which cron mails to the owner as if something were wrong.
    if (signal && getMaxListeners(signal) < MAX_IN_FLIGHT * 2) setMaxListeners(MAX_IN_FLIGHT * 2, signal);
    return this.pacer.turn(signal);
  }

  /** A turn waited for was not used (the charge was claimed elsewhere meanwhile). */
  turnUnused(): void {
    this.pacer.unused();
  }

  /**
   * Sends worth keeping in flight at once (Little's law): the allowed rate × how long Resend
   * takes to answer, plus one being claimed and one waiting for its turn, so the pacer never
   * waits for work.
   */
  get inFlightTarget(): number {
    const sending = Math.ceil((this.pacer.ratePerSecond * (this.latencyMs ?? FIRST_LATENCY_GUESS_MS)) / 1000);
    return Math.min(MAX_IN_FLIGHT, sending + 2);
  }

  /**
   * One logical send; the caller has already waited its turn for the first request. No request
   * starts at or after `replayUntil` (ms): an earlier try may have gone out, and past that moment
   * Resend may no longer recognise a repeat, so the outcome stays unknown for a human.
   */
  async send(payload: SendablePayload, key: string, replayUntil = Infinity): Promise<SendResult> {
    if (this.quota && this.clock.now() < this.quota.until) return this.quota.result;
    const bytes = (payload.attachments ?? []).reduce((n, a) => n + a.content.length, 0);
    const timeoutMs = this.baseTimeoutMs + Math.ceil(bytes / 1e6) * TIMEOUT_MS_PER_MB;
    const patientUntil = this.clock.now() + RATE_LIMIT_PATIENCE_MS;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.pacer.turn(undefined, true);
      if (this.clock.now() >= replayUntil) return REPLAY_TOO_LATE;
      const { response, sentAt } = await this.post(payload, key, timeoutMs);
      if (debugEnabled()) log.debug("resend answered", resendTrace(key, response));
      this.pacer.observe(response.headers, Boolean(response.data?.id), sentAt);
      if (response.data?.id) return { ok: true, emailId: response.data.id };
      const result = classifyResendError(response.error ?? { name: "application_error", statusCode: 500, message: "empty answer" }, retryAfterMs(response.headers, this.clock.now()));
      if (!result.ok && result.quotaExceeded) this.quota = { until: this.clock.now() + (result.retryAfterMs ?? 0), result };
      const rateLimited = !result.ok && response.error?.name === "rate_limit_exceeded";
      if (!rateLimited || this.clock.now() >= patientUntil) return result;
      // A 429 means Resend did not take the request: waiting and repeating it is safe.
      this.pacer.rateLimited(response.headers, result.retryAfterMs, sentAt);
    }
  }

  /**
   * Resend's last event for an email (`emails.get`): the fallback when no webhook tells us about
   * bounces. The caller waits its turn first: reads count against the same rate limit as sends.
   * `denied`: the key may only send (a full-access key can read emails).
   */
  async lastEvent(emailId: string): Promise<{ ok: true; lastEvent: string | null } | { ok: false; denied: boolean; reason: string }> {
    const abort = this.withDeadline(performance.now() + this.baseTimeoutMs);
    const sentAt = this.pacer.sending();
    let headers: Record<string, string> | null | undefined = null;
    let accepted = false;
    try {
      const r = await this.resend.emails.get(emailId, { signal: abort.signal });
      headers = (r as { headers?: Record<string, string> | null }).headers;
      accepted = Boolean(r.data);
      if (r.data) return { ok: true, lastEvent: r.data.last_event ?? null };
      const name = r.error?.name ?? "unknown_error";
      return { ok: false, denied: name === "restricted_api_key" || name === "invalid_api_key" || name === "missing_api_key", reason: redact(`${name}: ${r.error?.message ?? ""}`) };
    } catch (err) {
      return { ok: false, denied: false, reason: redact(String(err)) };
    } finally {
      this.deadlines.delete(abort);
      // Every request started is answered to the pacer, headers or not.
      this.pacer.observe(headers, accepted, sentAt);
    }
  }

  private async post(payload: SendablePayload, key: string, timeoutMs: number) {
    this.requests++;
    // Real elapsed time, not the injected clock: it sizes the pool by what the network takes.
    const started = this.elapsed();
    const abort = this.withDeadline(performance.now() + timeoutMs);
    let sentAt = this.pacer.sending();
    // Resend counts the request from when it arrives: the pacer from when it really left.
    const departing = onDeparture(key, () => (sentAt = this.pacer.departed(sentAt, this.clock.now())));
    try {
      const response = await this.resend.emails.send(payload as CreateEmailOptions, { idempotencyKey: key, signal: abort.signal });
      const took = this.elapsed() - started;
      this.metrics?.sendSeconds.observe(took / 1000);
      this.latencyMs = this.latencyMs === null ? took : this.latencyMs + LATENCY_WEIGHT * (took - this.latencyMs);
      return { response, sentAt };
    } catch (err) {
      // The SDK is documented not to throw; if it ever does, the outcome is unknown, not "failed".
      return { response: { data: null, error: { name: "application_error" as const, statusCode: null, message: redact(String(err)) }, headers: null }, sentAt };
    } finally {
      departing.stop();
      this.deadlines.delete(abort);
    }
  }

  /**
   * An abort signal that fires once `deadline` passes. One watchdog timer serves every request
   * in flight: a timer per send cost more CPU than the rest of a send's own work.
   */
  private withDeadline(deadline: number): AbortController {
    const abort = new AbortController();
    this.deadlines.set(abort, deadline);
    this.watchdog ??= setInterval(() => {
      const now = performance.now();
      for (const [a, at] of this.deadlines) if (now >= at) a.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
      if (this.deadlines.size === 0 && this.watchdog) {
        clearInterval(this.watchdog);
        this.watchdog = null;
      }
    }, WATCHDOG_EVERY_MS).unref();
    return abort;
  }
}

/** For LOG_LEVEL=debug: what Resend said and the rate-limit headers the pacer goes by. */
function resendTrace(key: string, response: { data?: { id?: string } | null; error?: { name?: string; statusCode?: number | null; message?: string } | null; headers?: Record<string, string> | null }): Record<string, unknown> {
  const h = response.headers ?? {};
  const limits = Object.fromEntries(["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after"].filter((k) => h[k] !== undefined).map((k) => [k, h[k]]));
  return response.data?.id
    ? { key, status: "accepted", emailId: response.data.id, ...limits }
    : { key, status: response.error?.statusCode ?? "no answer", error: response.error?.name, message: redact(response.error?.message ?? ""), ...limits };
}
