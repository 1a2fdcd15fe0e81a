import type { Logger } from "./log";
import { registerSecret } from "./redact";
import { UsageError } from "./errors";

// PAIDUP_HEARTBEAT_URL: after every pass paidup requests `<url>` (the pass ended as exit 0
// would) or `<url>/fail` (exit 1 or 3), the convention of Healthchecks.io, Cronitor and Uptime
// Kuma push monitors. The monitor notices a dead host by the pings that stop coming.

const DEFAULT_TIMEOUT_MS = 5_000;

export class Heartbeat {
  private readonly url: URL;

  /** `timeoutMs` bounds the whole request: a monitor that hangs never holds the pass longer. */
  constructor(url: string, private readonly log: Logger, private readonly timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.url = new URL(url);
    // The path (and query) of a ping URL is its secret token: masked wherever it might appear.
    registerSecret(url);
    registerSecret(this.url.pathname.replace(/^\/+|\/+$/g, ""));
    registerSecret(this.url.search.slice(1));
  }

  /** Where pings go, fit for a log line: the host only. */
  get shown(): string {
    return `${this.url.origin}/…`;
  }

  /** Never throws and never takes longer than the timeout: a heartbeat that fails never fails the pass. */
  async beat(ok: boolean): Promise<void> {
    const target = new URL(this.url);
    if (!ok) target.pathname = `${target.pathname.replace(/\/+$/, "")}/fail`;
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((resolve) => {
      timer = setTimeout(() => {
        abort.abort();
        resolve(`no answer within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
    });
    const request = (async (): Promise<string | null> => {
      try {
        const res = await fetch(target, { method: "GET", signal: abort.signal, redirect: "follow" });
        // The body is not needed; cancelling it frees the socket.
        await res.body?.cancel().catch(() => undefined);
        return res.ok ? null : `answered ${res.status}`;
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code;
        return cause ?? (err as Error).name ?? "request failed";
      }
    })();
    try {
      const problem = await Promise.race([request, deadline]);
      if (problem) this.log.warn(`heartbeat to ${this.shown} failed (${problem}); the pass itself is not affected`);
      else this.log.debug(`heartbeat sent to ${this.shown}`, { ok });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The heartbeat of PAIDUP_HEARTBEAT_URL, or null when it is unset. A value that is not an
 * http(s) URL is a configuration error (exit 2), not a silent "no monitor".
 */
export function heartbeatFromEnv(value: string | undefined, log: Logger): Heartbeat | null {
  if (!value) return null;
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError("PAIDUP_HEARTBEAT_URL is not an http(s) URL", "use the ping URL your monitor gives you, e.g. https://hc-ping.com/<uuid>");
  }
  const ms = Number(process.env.PAIDUP_HEARTBEAT_TIMEOUT_MS);
  return new Heartbeat(value, log, Number.isFinite(ms) && ms > 0 ? ms : undefined);
}
