import { CreateEmailOptions, Resend } from "resend";
import type { Clock } from "../clock";
import { Pacer } from "./pacer";
import type { SendablePayload } from "./payload";
import { redact } from "../redact";
import { classifyResendError, retryAfterMs, SendResult } from "./send-result";

const BASE_TIMEOUT_MS = 30_000;
/** Large attachments take longer to upload from a small VPS: allow a second per MB. */
const TIMEOUT_MS_PER_MB = 1000;
/** 429s are waited out inside the pass (same key, same payload) this many times. */
const RATE_LIMIT_RETRIES = 6;

export function idempotencyKey(chargeId: string): string {
  return `paidup-${chargeId}`;
}

/** Sends through Resend, paced under its rate limit, with a timeout on every request. */
export class Mailer {
  readonly pacer: Pacer;
  requests = 0;

  constructor(private readonly resend: Resend, private readonly clock: Clock, maxPerSecond: number, private readonly baseTimeoutMs = BASE_TIMEOUT_MS) {
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
    return this.pacer.turn(signal);
  }

  /** One logical send; the caller has already waited its turn for the first request. */
  async send(payload: SendablePayload, key: string): Promise<SendResult> {
    const bytes = (payload.attachments ?? []).reduce((n, a) => n + a.content.length, 0);
    const timeoutMs = this.baseTimeoutMs + Math.ceil(bytes / 1e6) * TIMEOUT_MS_PER_MB;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.pacer.turn();
      const response = await this.post(payload, key, timeoutMs);
      this.pacer.observe(response.headers);
      if (response.data?.id) return { ok: true, emailId: response.data.id };
      const result = classifyResendError(response.error ?? { name: "application_error", statusCode: 500, message: "empty answer" }, retryAfterMs(response.headers, this.clock.now()));
      const rateLimited = !result.ok && response.error?.name === "rate_limit_exceeded";
      if (!rateLimited || attempt >= RATE_LIMIT_RETRIES) return result;
      // A 429 means Resend did not take the request: waiting and repeating it is safe.
      this.pacer.pause(result.retryAfterMs ?? 1000);
    }
  }

  private async post(payload: SendablePayload, key: string, timeoutMs: number) {
    this.requests++;
    try {
      return await this.resend.emails.send(payload as CreateEmailOptions, { idempotencyKey: key, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      // The SDK is documented not to throw; if it ever does, the outcome is unknown, not "failed".
      return { data: null, error: { name: "application_error" as const, statusCode: null, message: redact(String(err)) }, headers: null };
    }
  }
}
