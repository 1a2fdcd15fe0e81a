import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * At most `limit` requests per client IP in any `windowMs` (a sliding log of each client's last
 * `limit` request times), counted in this process's memory: each `serve` process counts its own.
 * Time comes from the injected clock, so tests reach "a minute later" without waiting.
 *
 * Memory stays bounded under a flood from many addresses: at most `maxClients` clients are
 * tracked, each with at most `limit` times; past that the client seen least recently is
 * forgotten (it would have to be idle for longest to gain from it).
 */
export interface PerIpLimitOptions {
  limit: number;
  windowMs: number;
  now: () => number;
  /** Default 10,000 clients. */
  maxClients?: number;
}

export type LimitDecision = { ok: true } | { ok: false; retryAfterS: number };

export class PerIpLimit {
  private readonly clients = new Map<string, number[]>();
  private readonly maxClients: number;

  constructor(private readonly opts: PerIpLimitOptions) {
    this.maxClients = opts.maxClients ?? 10_000;
  }

  /** Takes one request for `ip` if its window has room; otherwise says when it may try again. */
  take(ip: string): LimitDecision {
    const now = this.opts.now();
    const since = now - this.opts.windowMs;
    const times = (this.clients.get(ip) ?? []).filter((t) => t > since);
    // Re-inserted on every request, so the Map's order is least recently seen first.
    this.clients.delete(ip);
    if (times.length >= this.opts.limit) {
      this.clients.set(ip, times);
      const oldest = times[0] as number;
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((oldest + this.opts.windowMs - now) / 1000)) };
    }
    times.push(now);
    this.clients.set(ip, times);
    while (this.clients.size > this.maxClients) {
      const first = this.clients.keys().next().value as string;
      this.clients.delete(first);
    }
    return { ok: true };
  }

  /** Clients tracked now (for tests of the memory bound). */
  get size(): number {
    return this.clients.size;
  }
}

/**
 * A Fastify `onRequest` hook enforcing `limit` by `req.ip`: beyond it, 429 with `Retry-After` in
 * seconds, answered before the body is read or any handler runs (nothing looked up or stored).
 * `body` shapes the refusal for the route group (an HTML page, a JSON error).
 */
export function perIpLimitHook(limit: PerIpLimit, body: (retryAfterS: number) => { type: string; payload: string }) {
  // Async hook: answering early means sending and returning the reply (Fastify's rule).
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const decision = limit.take(req.ip);
    if (decision.ok) return undefined;
    const answer = body(decision.retryAfterS);
    return reply.code(429).header("retry-after", String(decision.retryAfterS)).header("cache-control", "no-store").type(answer.type).send(answer.payload);
  };
}
