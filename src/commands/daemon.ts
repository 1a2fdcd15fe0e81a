import { runChecks } from "./checks";
import { loadEnv } from "../config";
import { openContext } from "./context";
import { startDaemon, validateSchedule } from "../pass/daemon";
import { EXIT, ExitCode } from "../errors";
import { log } from "../log";
import { heartbeatFromEnv } from "../heartbeat";
import { runWatchedPass } from "../pass/pass-outcome";
import { checkLines } from "./check";

/**
 * Checks the configuration once, then runs passes on the schedule until SIGTERM/SIGINT; then
 * stops after the send in flight, closes the ledger and exits 0.
 */
export async function daemonCommand(flags: { schedule?: string; serve?: boolean; host: string; port: string }, stop: AbortSignal): Promise<ExitCode> {
  if (flags.schedule !== undefined) validateSchedule(flags.schedule);
  // The HTTP side (Fastify, prom-client) loads only for --serve.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const serve = flags.serve ? (require("./serve") as typeof import("./serve")) : null;
  serve?.requireWebhookSecret();
  const heartbeat = heartbeatFromEnv(loadEnv().heartbeatUrl, log);
  const results = await runChecks(loadEnv());
  // Not fatal: a missing product file stops only that product (its charges go to needs_review),
  // and Stripe or Resend unreachable at boot is what every later pass retries anyway.
  const fatal = results.filter((r) => !r.ok && !r.productOnly && !r.transient);
  for (const r of results.filter((x) => !x.ok && (x.productOnly || x.transient))) log.warn(`check failed: ${r.name}: ${r.detail}`);
  if (fatal.length > 0) {
    process.stderr.write(["paidup: the daemon did not start; these checks failed:", ...checkLines(fatal)].join("\n") + "\n");
    return EXIT.usage;
  }
  if (stop.aborted) return EXIT.ok;

  const ctx = await openContext({ send: true });
  try {
    if (serve) serve.attachMetrics(ctx);
    const daemon = startDaemon({ schedule: flags.schedule, log, pass: (signal) => runWatchedPass({ ...ctx.deps, signal }, {}, heartbeat) });
    // The webhooks stop on SIGTERM/SIGINT, or when a pass finds it cannot go on (FatalFailure).
    const serving = new AbortController();
    stop.addEventListener("abort", () => serving.abort(), { once: true });
    // With --serve, webhooks and passes share one process and one ledger connection.
    const webhooks = serve ? await serve.startWebhookServer(flags, serving.signal, ctx) : null;
    const stopped = new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener("abort", () => resolve(), { once: true })));
    const fatal = await Promise.race([stopped.then(() => null), daemon.failed]);
    serving.abort();
    await Promise.all([daemon.stop(), webhooks?.stopped]);
    // The ledger went away under us: exit 3 with the reason, rather than recording into nothing.
    if (fatal) throw fatal;
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
