import { performance } from "node:perf_hooks";
import type { CreateBatchOptions, Resend } from "resend";
import type { Clock } from "../clock";
import { debugEnabled, log } from "../log";
import { redact } from "../redact";
import type { Pacer } from "./pacer";
import { onDeparture } from "./departures";
import { classifyResendError, retryAfterMs, SendResult } from "./send-result";

// Resend's batch endpoint (POST /emails/batch, 1–100 emails, one Idempotency-Key per request),
// paced by the same Pacer as single sends: one batch takes one turn, so a delivery waiting
// beside an announcement waits for at most the batch ahead of it, never for the whole list.

/** The most emails Resend takes in one batch. */
export const MAX_BATCH = 100;
const TIMEOUT_MS = 30_000;
/** 429s are waited out here, as Mailer.send does: "slow down", not "this batch failed". */
const RATE_LIMIT_PATIENCE_MS = 120_000;

export type BatchResult =
  | { ok: true; ids: string[] }
  | (Extract<SendResult, { ok: false }> & {
      /** Resend refused the batch for the content of its emails (422): it sent none of them. */
      refused?: boolean;
    });

const TOO_LATE: BatchResult = {
  ok: false, retryable: false, outcomeUnknown: true,
  reason: "outcome of send unknown: an earlier try may have gone out, and Resend's 24 h idempotency window was about to close before it could be repeated",
};

const STOPPED: BatchResult = {
  ok: false, retryable: true, outcomeUnknown: true,
  reason: "stopped (SIGTERM/SIGINT) before this batch was sent; the next run sends it under the same key",
};

export class BatchMailer {
  requests = 0;

  constructor(private readonly resend: Resend, private readonly pacer: Pacer, private readonly clock: Clock, private readonly timeoutMs = TIMEOUT_MS) {}

  /**
   * One batch under `key`, exactly as given (the caller stored it, so a replay is byte-identical).
   * Waits its turn for every request. No request starts at or after `replayUntil` (ms).
   */
  async send(emails: CreateBatchOptions, key: string, replayUntil = Infinity, signal?: AbortSignal): Promise<BatchResult> {
    const patientUntil = this.clock.now() + RATE_LIMIT_PATIENCE_MS;
    for (;;) {
      await this.pacer.turn(signal);
      if (signal?.aborted) {
        // Asked to stop while waiting: no request without a turn. The caller keeps the batch
        // recorded, so the next run sends (or replays) it under its key.
        this.pacer.unused();
        return STOPPED;
      }
      if (this.clock.now() >= replayUntil) {
        this.pacer.unused();
        return TOO_LATE;
      }
      let sentAt = this.pacer.sending();
      // Resend counts the request from when it arrives: the pacer from when it really left.
      const departing = onDeparture(key, () => (sentAt = this.pacer.departed(sentAt, this.clock.now())));
      const response = await this.post(emails, key).finally(departing.stop);
      this.pacer.observe(response.headers, Boolean(response.data), sentAt);
      const ids = response.data?.data?.map((d) => d.id);
      if (debugEnabled()) log.debug("resend answered a batch", { key, size: emails.length, accepted: ids?.length ?? 0, error: response.error?.name });
      if (ids && ids.length === emails.length && ids.every((id) => typeof id === "string" && id.length > 0)) return { ok: true, ids };
      if (ids) return { ok: false, retryable: false, outcomeUnknown: true, reason: `outcome of send unknown: Resend answered ${ids.length} ids for a batch of ${emails.length}` };
      const error = response.error ?? { name: "application_error", statusCode: 500, message: "empty answer" };
      const result = classifyResendError(error, retryAfterMs(response.headers, this.clock.now()));
      if (result.ok) return { ok: false, retryable: true, outcomeUnknown: true, reason: "unreadable answer" };
      if (error.name === "rate_limit_exceeded" && this.clock.now() < patientUntil) {
        this.pacer.rateLimited(response.headers, result.retryAfterMs, sentAt);
        continue;
      }
      // Validation is all or nothing: a 422 names one email at fault and none was sent. Only a
      // refused recipient (validation_error) is worth splitting the batch for; a bad `from` or a
      // missing field (invalid_from_address, missing_required_field) fails every email alike.
      const refused = error.statusCode === 422 && error.name === "validation_error" && !result.retryable && !result.outcomeUnknown;
      return { ...result, refused };
    }
  }

  private async post(emails: CreateBatchOptions, key: string) {
    this.requests++;
    const started = performance.now();
    try {
      return await this.resend.batch.send(emails, { idempotencyKey: key, signal: AbortSignal.timeout(this.timeoutMs) } as never);
    } catch (err) {
      // Documented not to throw; if it does, the outcome is unknown, not "failed".
      return { data: null, error: { name: "application_error" as const, statusCode: null, message: redact(String(err)) }, headers: null };
    } finally {
      if (debugEnabled()) log.debug("batch request took", { key, ms: Math.round(performance.now() - started) });
    }
  }
}
