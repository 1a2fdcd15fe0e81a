// Every Resend answer is classified here, once: delivered, retry later, or a human must look.

import type { SendFailureClass } from "../metrics";

export type SendResult =
  | { ok: true; emailId: string }
  | {
      ok: false;
      /** May pass on its own (network, 5xx, 429): retried with backoff. */
      retryable: boolean;
      /** The email may have gone out: a re-send must reuse the key and the exact payload. */
      outcomeUnknown: boolean;
      /** The Resend key itself was refused: no other send can work either. */
      keyRejected?: boolean;
      /** Resend is still processing another request with this idempotency key (another process's). */
      inFlightElsewhere?: boolean;
      reason: string;
      retryAfterMs?: number;
      /** Resend's daily or monthly quota: no send can succeed before `retryAfterMs`. */
      quotaExceeded?: boolean;
    };

/** How long a charge waits after Resend's quota refused it: quotas refill over hours, not seconds. */
export const QUOTA_RETRY_MS = { daily_quota_exceeded: 3_600_000, monthly_quota_exceeded: 6 * 3_600_000 } as const;

export interface ResendErrorLike {
  name?: string;
  statusCode?: number | null;
  message?: string;
}

const KEY_ERRORS = new Set(["missing_api_key", "invalid_api_key", "restricted_api_key"]);

/**
 * Resend answers 403 `validation_error` both for a `from` domain that is not verified and for a
 * testing account writing to a stranger (FACTS.md): the key is fine, the operator must act in
 * Resend. Each known message gets the step that fixes it; Resend's own words are kept. The testing
 * message also says "verify a domain", so it is matched first.
 */
const OPERATOR_FIXES: [RegExp, string][] = [
  [/testing emails|own email address/i, "this Resend account can only send test emails to its owner: verify a domain in Resend and use a `from` address on it"],
  [/domain is not verified|verify (?:a|your) domain/i, "verify the domain of the `from` address in Resend (resend.com/domains), or send from a domain that is verified there"],
];

function operatorFix(message: string): string {
  const fix = OPERATOR_FIXES.find(([pattern]) => pattern.test(message))?.[1];
  return fix ? `; to fix: ${fix}` : "";
}

/** A key error by Resend's name; a bare 401/403 only when its message is about the key. */
function isKeyError(name: string, status: number, message: string): boolean {
  if (KEY_ERRORS.has(name)) return true;
  if (name === "validation_error") return false;
  return (status === 401 || status === 403) && /api key|authori[sz]/i.test(message);
}

export function classifyResendError(error: ResendErrorLike, retryAfterMs?: number): SendResult {
  const name = error.name ?? "unknown_error";
  const status = error.statusCode ?? null;
  const detail = `${name}${status ? ` (${status})` : ""}: ${error.message ?? ""}`.trim();
  const fail = (retryable: boolean, outcomeUnknown: boolean, reason: string, extra: Partial<Extract<SendResult, { ok: false }>> = {}): SendResult => ({
    ok: false, retryable, outcomeUnknown, reason, ...extra,
  });

  if (status === null) return fail(true, true, `network error or timeout talking to Resend (${detail})`);
  switch (name) {
    case "invalid_idempotent_request":
      // Resend holds a different payload under this key: an email may well have gone.
      return fail(false, true, `outcome of send unknown: Resend holds a different payload for this idempotency key (${detail})`);
    case "concurrent_idempotent_requests":
      return fail(true, true, `another send of this charge is still in flight at Resend (${detail})`, { inFlightElsewhere: true });
    case "rate_limit_exceeded":
      return fail(true, false, `Resend rate limit (${detail})`, { retryAfterMs });
    case "daily_quota_exceeded":
    case "monthly_quota_exceeded": {
      // Not a pacing problem: waiting seconds does not help, so the charge waits hours, not the pass.
      const delayMs = Math.max(retryAfterMs ?? 0, QUOTA_RETRY_MS[name]);
      const period = name === "daily_quota_exceeded" ? "daily" : "monthly";
      return fail(true, false, `Resend's ${period} sending quota is used up (${name}); retrying in ${Math.round(delayMs / 3_600_000)} h, or raise the quota in Resend`, { retryAfterMs: delayMs, quotaExceeded: true });
    }
  }
  if (isKeyError(name, status, error.message ?? "")) return fail(true, false, `Resend rejected RESEND_API_KEY (${name})`, { keyRejected: true });
  if (status >= 500) return fail(true, true, `Resend server error (${detail})`);
  if (status === 429) return fail(true, false, `Resend rate limit (${detail})`, { retryAfterMs });
  // 4xx: the request itself is wrong (bad address, unverified domain); repeating it cannot help
  // until the operator fixes the cause.
  return fail(false, false, `Resend refused the email: ${detail}${operatorFix(error.message ?? "")}`);
}

/** `retry-after` in seconds (or an HTTP date), as milliseconds. */
export function retryAfterMs(headers: Record<string, string> | null, now: number): number | undefined {
  const value = headers?.["retry-after"];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The class a failed send is counted under in /metrics. */
export function failureClass(result: Extract<SendResult, { ok: false }>): SendFailureClass {
  if (result.keyRejected) return "key_rejected";
  if (result.quotaExceeded) return "quota";
  if (result.retryable && !result.outcomeUnknown && /rate limit/.test(result.reason)) return "rate_limited";
  if (result.outcomeUnknown) return "outcome_unknown";
  return result.retryable ? "retryable" : "refused";
}
