import type { AddressInfo } from "node:net";
import Fastify, { FastifyError, FastifyInstance } from "fastify";
import type Stripe from "stripe";
import type { PassDeps } from "../pass/pass-deps";
import { redact } from "../redact";
import { WorkQueue } from "./event-queue";
import { buyersPageRoutes } from "./buyers-page";
import { downloadRoutes } from "./downloads";
import { health } from "./health";
import { HTTP_LIMITS, HttpLimits } from "./limits";
import { licenseRoutes } from "./licenses";
import { resendWebhooks } from "./resend-webhooks";
import { stripeWebhooks } from "./stripe-webhooks";
import { unsubscribeRoutes } from "./unsubscribe";

export interface HttpServerOptions {
  host: string;
  port: number;
  /** STRIPE_WEBHOOK_SECRET. */
  stripeSecret: string;
  /** RESEND_WEBHOOK_SECRET: without it, POST /webhooks/resend is not served (404). */
  resendSecret?: string;
  stripe: Stripe;
  deps: PassDeps;
  /** Tests shorten the timeouts; production uses HTTP_LIMITS. */
  limits?: Partial<HttpLimits>;
}

/**
 * The app: limits for every route, then one plugin per route group. A failure in any route is
 * answered here by the framework (4xx as it is, anything else 500), never left to crash the
 * process that also runs the passes.
 */
export function buildApp(opts: HttpServerOptions, queue: WorkQueue): FastifyInstance {
  const limits = { ...HTTP_LIMITS, ...opts.limits };
  const { deps } = opts;
  const app = Fastify({
    logger: false,
    bodyLimit: limits.bodyLimit,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
    // On stop, a client holding a socket must not hold the process: events are recorded
    // before their 200, so a cut answer is only a retry for Stripe.
    forceCloseConnections: true,
    // Behind nginx or Caddy on the same host, the buyer's address is in X-Forwarded-For; only a
    // proxy on loopback is believed, so a client reaching serve directly cannot forge its IP
    // in the download log that `evidence` shows.
    trustProxy: "127.0.0.1,::1",
  });
  app.server.maxConnections = limits.maxConnections;

  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: "not found" }));
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.log.error("HTTP request failed", { method: req.method, path: req.routeOptions.url ?? "", error: redact(err.message) });
    else deps.log.debug("HTTP request refused", { method: req.method, status, error: redact(err.message) });
    return reply.code(status).send({ error: status === 500 ? "internal error" : err.message });
  });

  app.register(stripeWebhooks, { secret: opts.stripeSecret, stripe: opts.stripe, deps, queue });
  app.register(health, { deps });
  app.register(downloadRoutes, { deps });
  app.register(buyersPageRoutes, { deps, later: (what, job) => queue.tryPush(what, job) });
  app.register(licenseRoutes, { deps });
  app.register(unsubscribeRoutes, { deps });
  if (opts.resendSecret) app.register(resendWebhooks, { secret: opts.resendSecret, deps, queue });
  return app;
}

/** `serve`: the app on a socket, plus the line of work its routes answered before doing. */
export class HttpServer {
  private readonly queue: WorkQueue;
  private readonly app: FastifyInstance;

  constructor(private readonly opts: HttpServerOptions) {
    this.queue = new WorkQueue(opts.deps.log, { ...HTTP_LIMITS, ...opts.limits }.workQueueMax);
    this.app = buildApp(opts, this.queue);
  }

  async start(): Promise<string> {
    await this.app.listen({ host: this.opts.host, port: this.opts.port });
    const { address, port } = this.app.server.address() as AddressInfo;
    return `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  }

  /** Stops accepting, then waits for the work in hand (the send in flight completes). */
  async close(): Promise<void> {
    await this.app.close();
    await this.idle();
  }

  /** Resolves when every event received so far has been handled. */
  idle(): Promise<void> {
    return this.queue.idle();
  }
}
