import http from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";
import type { EventRow } from "../ledger";
import type { PassDeps } from "../pass/pass-deps";
import { passHealth } from "../pass/pass-record";
import { redact } from "../redact";
import { eventObjectId, handleEvent } from "./webhook-events";

export const MAX_BODY_BYTES = 1024 * 1024;
const WEBHOOK_PATH = "/webhooks/stripe";
const HEALTH_PATH = "/healthz";

export interface WebhookServerOptions {
  host: string;
  port: number;
  secret: string;
  /** Only its `webhooks.constructEvent` is used: signatures are checked by the SDK. */
  stripe: Stripe;
  deps: PassDeps;
}

/**
 * The webhook fast path: verify on the raw bytes, record the event (its id is unique), answer
 * 200, then deliver through the same path as a pass. The poller stays the source of truth.
 */
export class WebhookServer {
  private readonly server: http.Server;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: WebhookServerOptions) {
    this.server = http.createServer((req, res) => void this.route(req, res));
    // A slow client must not hold a socket open forever.
    this.server.requestTimeout = 10_000;
  }

  async start(): Promise<string> {
    // Finish what a previous process recorded but did not handle (it stopped after the 200).
    for (const event of await this.opts.deps.ledger.unhandledEvents()) this.enqueue(event);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address}:${port}`;
  }

  /** Stops accepting, then waits for the events in hand (the send in flight completes). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await this.idle();
  }

  /** Resolves when every event received so far has been handled. */
  idle(): Promise<void> {
    return this.queue.then(() => undefined);
  }

  private enqueue(event: EventRow): void {
    const { deps } = this.opts;
    // One event at a time: claims are atomic anyway, but this keeps sends paced in one line.
    this.queue = this.queue.then(async () => {
      if (deps.signal?.aborted) return;
      try {
        const outcome = await handleEvent(deps, event);
        deps.log.info("webhook event handled", { event: event.id, type: event.type, outcome: outcome?.kind ?? "ignored" });
      } catch (err) {
        // Left unhandled in the ledger: the next start, and in any case the next poll, picks it up.
        deps.log.error("webhook event failed; the next poll covers it", { event: event.id, error: redact(String(err)) });
      }
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0];
    if (path === WEBHOOK_PATH) return req.method === "POST" ? this.receive(req, res) : reply(res, 405, { error: "method not allowed" }, { allow: "POST" });
    if (path === HEALTH_PATH) {
      if (req.method !== "GET" && req.method !== "HEAD") return reply(res, 405, { error: "method not allowed" }, { allow: "GET" });
      const { deps } = this.opts;
      const health = await passHealth(deps.ledger, deps.config.staleAfterMs, deps.clock.now());
      return reply(res, health.lastPass && !health.lastPass.stale ? 200 : 503, health);
    }
    req.resume();
    reply(res, 404, { error: "not found" });
  }

  private async receive(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (raw === "too_large") return reply(res, 413, { error: "body larger than 1 MiB" }, { connection: "close" });
    const { deps, secret, stripe } = this.opts;
    let event: Stripe.Event;
    try {
      const header = req.headers["stripe-signature"];
      if (typeof header !== "string") throw new Error("no Stripe-Signature header");
      // receivedAt is in milliseconds: the injected clock decides what "too old" means.
      event = stripe.webhooks.constructEvent(raw, header, secret, undefined, undefined, deps.clock.now());
    } catch (err) {
      deps.log.warn("webhook refused: signature verification failed", { error: redact((err as Error).message).slice(0, 200) });
      return reply(res, 400, { error: "signature verification failed" });
    }
    const row: EventRow = { id: event.id, type: event.type, object_id: eventObjectId(event), received_at: deps.clock.now(), handled_at: null };
    let fresh: boolean;
    try {
      fresh = await deps.ledger.recordEvent({ id: row.id, type: row.type, objectId: row.object_id }, row.received_at);
    } catch (err) {
      // Not recorded, so not acknowledged: Stripe retries, and the poller covers it anyway.
      deps.log.error("webhook event could not be recorded", { event: event.id, error: redact(String(err)) });
      return reply(res, 500, { error: "could not record the event" });
    }
    reply(res, 200, { received: true, duplicate: !fresh });
    if (fresh) this.enqueue(row);
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The raw bytes (signatures are over them, not over re-serialised JSON), up to 1 MiB. */
function readBody(req: http.IncomingMessage): Promise<Buffer | "too_large"> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) {
      req.resume();
      return resolve("too_large");
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners("data");
        req.resume();
        return resolve("too_large");
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
