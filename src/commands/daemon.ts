import { runChecks } from "./checks";
import { loadEnv } from "../config";
import { openContext } from "./context";
import { startDaemon, validateSchedule } from "../pass/daemon";
import { EXIT, ExitCode } from "../errors";
import { log } from "../log";
import { runPass } from "../pass/run-pass";
import { requireWebhookSecret, startWebhookServer } from "./serve";
import { checkLines } from "./check";

/**
 * Checks the configuration once, then runs passes on the schedule until SIGTERM/SIGINT; then
 * stops after the send in flight, closes the ledger and exits 0.
 */
export async function daemonCommand(flags: { schedule?: string; serve?: boolean; host: string; port: string }, stop: AbortSignal): Promise<ExitCode> {
  if (flags.schedule !== undefined) validateSchedule(flags.schedule);
  if (flags.serve) requireWebhookSecret();
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
    const daemon = startDaemon({ schedule: flags.schedule, log, pass: (signal) => runPass({ ...ctx.deps, signal }) });
    // With --serve, webhooks and passes share one process and one ledger connection.
    const webhooks = flags.serve ? await startWebhookServer(flags, stop, ctx) : null;
    await new Promise<void>((resolve) => (stop.aborted ? resolve() : stop.addEventListener("abort", () => resolve(), { once: true })));
    await Promise.all([daemon.stop(), webhooks?.stopped]);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
