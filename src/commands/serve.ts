import { once } from "node:events";
import { loadEnv, requireStripeKey } from "../config";
import { Context, openContext } from "./context";
import { EXIT, ExitCode, UsageError } from "../errors";
import { HttpServer } from "../http";
import { Metrics } from "../metrics";
import { stripeClient } from "../stripe/stripe-source";

export interface ServeFlags {
  host: string;
  port: string;
}

/**
 * Counters for `GET /metrics`, kept by the process that serves them (a one-off `reconcile` has
 * nobody to scrape it, and does not load prom-client). Set before the daemon's first pass.
 */
export function attachMetrics(ctx: Context): Metrics {
  const metrics = (ctx.deps.metrics ??= new Metrics());
  if (ctx.deps.mailer) ctx.deps.mailer.metrics = metrics;
  return metrics;
}

/** Starts the webhook endpoint; resolves after a clean stop on SIGTERM/SIGINT. */
export async function startWebhookServer(flags: ServeFlags, signal: AbortSignal, ctx: Context): Promise<{ url: string; stopped: Promise<void> }> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${flags.port} is not a port number`);
  const secret = requireWebhookSecret();
  attachMetrics(ctx);
  const server = new HttpServer({
    host: flags.host,
    port,
    stripeSecret: secret,
    resendSecret: loadEnv().resendWebhookSecret,
    stripe: stripeClient(requireStripeKey(ctx.env), ctx.env.stripeApiBase),
    deps: { ...ctx.deps, signal },
  });
  let url: string;
  try {
    url = await server.start();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot listen on ${flags.host}:${port} (${code ?? String(err)})`, "choose another --port or --host");
  }
  ctx.deps.log.info(`listening for Stripe webhooks on ${url}/webhooks/stripe`);
  process.stdout.write(`listening on ${url}/webhooks/stripe\n`);
  const stopped = (async () => {
    if (!signal.aborted) await once(signal, "abort");
    await server.close();
  })();
  return { url, stopped };
}

/** Refuses to start without the signing secret: there is no way to turn verification off. */
export function requireWebhookSecret(): string {
  const secret = loadEnv().webhookSecret;
  if (!secret) {
    throw new UsageError("STRIPE_WEBHOOK_SECRET is not set; serve refuses to start without it", "copy the endpoint's signing secret (whsec_…) from the Stripe dashboard");
  }
  return secret;
}

function openServeContext(): Promise<Context> {
  requireWebhookSecret();
  return openContext({ send: true });
}

export async function serveCommand(flags: ServeFlags, signal: AbortSignal): Promise<ExitCode> {
  const ctx = await openServeContext();
  try {
    const { stopped } = await startWebhookServer(flags, signal, ctx);
    await stopped;
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
