import { UsageError } from "../errors";
import type { NewAlert } from "../ledger";
import { registerSecret } from "../redact";
import type { AlertChannel, ChannelResult } from "./channel";

// PAIDUP_ALERT_WEBHOOK_URL: every alert POSTed as JSON to a chat's incoming webhook, so the
// owner hears it when email is what broke. Slack, Mattermost and Google Chat show `text`;
// Discord shows `content` (at most 2,000 characters) and ignores the fields it does not know.
// Everything after the host is the webhook's secret (Slack's path, Google Chat's ?key=).

/** Discord refuses a `content` longer than this. */
export const DISCORD_LIMIT = 2000;
const DEFAULT_TIMEOUT_MS = 10_000;
const CUT = "\n… (cut to fit: paidup status lists everything)";

export interface WebhookBody {
  text: string;
  content: string;
  paidup: { kind: NewAlert["kind"]; charges: readonly string[] };
}

/** The alert as a chat shows it: the subject as its first line, then the text. */
export function webhookBody(alert: NewAlert): WebhookBody {
  const text = `${alert.subject}\n\n${alert.body}`;
  return { text, content: fit(text, DISCORD_LIMIT), paidup: { kind: alert.kind, charges: alert.charges } };
}

/** At most `limit` UTF-16 units, cut between characters (never inside a surrogate pair). */
function fit(text: string, limit: number): string {
  if (text.length <= limit) return text;
  let out = "";
  for (const ch of text) {
    if (out.length + ch.length > limit - CUT.length) break;
    out += ch;
  }
  return out + CUT;
}

export class WebhookChannel implements AlertChannel {
  readonly name = "webhook";
  private readonly url: URL;

  /** `timeoutMs` bounds the whole request: a webhook that hangs never holds the pass longer. */
  constructor(url: string, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.url = new URL(url);
    registerSecret(url);
    registerSecret(this.url.pathname.replace(/^\/+|\/+$/g, ""));
    registerSecret(this.url.search.slice(1));
  }

  /** The host only: the path and query are the secret. */
  get shown(): string {
    return `webhook at ${this.url.host}`;
  }

  async deliver(alert: NewAlert): Promise<ChannelResult> {
    try {
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(webhookBody(alert)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // The body is not needed; cancelling it frees the socket.
      await res.body?.cancel().catch(() => undefined);
      return res.ok ? { ok: true } : { ok: false, reason: `${this.url.host} answered ${res.status}` };
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      const why = e.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : (e.cause?.code ?? e.name ?? "request failed");
      return { ok: false, reason: `${this.url.host}: ${why}` };
    }
  }
}

/**
 * The channel of PAIDUP_ALERT_WEBHOOK_URL, or null when it is unset. A value that is not an
 * http(s) URL is a configuration error (exit 2), not a silent "no webhook".
 */
export function webhookChannelFromEnv(value: string | undefined): WebhookChannel | null {
  if (!value) return null;
  let url: URL | null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError("PAIDUP_ALERT_WEBHOOK_URL is not an http(s) URL", "use the incoming-webhook URL your chat gives you, e.g. https://hooks.slack.com/services/…");
  }
  const ms = Number(process.env.PAIDUP_ALERT_WEBHOOK_TIMEOUT_MS);
  return new WebhookChannel(value, Number.isFinite(ms) && ms > 0 ? ms : undefined);
}
