import { Command, CommanderError } from "commander";
import { initCommand } from "./commands/init";
import { checkCommand } from "./commands/check";
import { daemonCommand } from "./commands/daemon";
import { resolveCommand } from "./commands/resolve";
import { retryCommand } from "./commands/retry";
import { showCommand } from "./commands/show";
import { statusCommand } from "./commands/status";
import { evidenceCommand } from "./commands/evidence";
import { reconcileCommand } from "./commands/reconcile";
import { resendCommand } from "./commands/resend";
import { serveCommand, ServeFlags } from "./commands/serve";
import { EXIT, ExitCode, PaidupError } from "./errors";
import { log } from "./log";
import { redact } from "./redact";

// The CLI wires commands to functions and maps every error to the contract's exit codes, here
// and nowhere else.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require("../../package.json") as { version: string };

type Action = () => Promise<ExitCode> | ExitCode;

/** SIGTERM/SIGINT ask the work in hand to stop after the send in flight. */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    log.info(`${sig} received: finishing the send in flight, then stopping`);
    controller.abort();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return controller.signal;
}

export function buildProgram(setExit: (code: ExitCode) => void): Command {
  const program = new Command("paidup")
    .description("Every paid Stripe charge gets what was paid for, exactly once.")
    .version(version)
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const run = (action: Action) => async () => setExit(await action());

  program
    .command("init")
    .description("create the ledger and set its start line (default: now)")
    .option("--since <when>", "take in charges back to <when> (ISO date/time or 30m, 12h, 7d)")
    .action(async (opts: { since?: string }) =>
      run(async () => {
        for (const line of (await initCommand(opts, Date.now())).lines) process.stdout.write(line + "\n");
        return EXIT.ok;
      })(),
    );

  program
    .command("reconcile")
    .description("one pass: list, compare, deliver, commit, report")
    .option("--dry-run", "change nothing, send nothing; print what would be done")
    .option("--since <when>", "widen this pass's listing back to <when> (never before the start line)")
    .option("--json", "print the pass's counts and undelivered charges as JSON")
    .action(async (opts: { dryRun?: boolean; since?: string; json?: boolean }) => run(() => reconcileCommand(opts, stopSignal()))());

  program
    .command("serve")
    .description("receive Stripe webhooks at POST /webhooks/stripe and deliver at once")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8787")
    .action(async (opts: ServeFlags) => run(() => serveCommand(opts, stopSignal()))());

  program
    .command("daemon")
    .description("run reconcile on a schedule, never two passes at once; stops cleanly on SIGTERM/SIGINT")
    .option("--schedule <cron>", 'cron expression (a leading sixth field counts seconds)', "* * * * *")
    .option("--serve", "also receive Stripe webhooks in this process (see serve)")
    .option("--host <host>", "with --serve: address to listen on", "127.0.0.1")
    .option("--port <port>", "with --serve: port to listen on", "8787")
    .action(async (opts: { schedule?: string; serve?: boolean; host: string; port: string }) => run(() => daemonCommand(opts, stopSignal()))());

  program
    .command("status")
    .description("list stuck charges and the health of the last pass (read-only)")
    .option("--json", "print the status as JSON")
    .option("--offline", "read the ledger alone, without asking Stripe")
    .action(async (opts: { json?: boolean; offline?: boolean }) => run(() => statusCommand(opts))());

  program
    .command("show <charge_id>")
    .description("one charge: its Stripe facts, its ledger state and every delivery attempt")
    .option("--json", "print the charge as JSON")
    .action(async (id: string, opts: { json?: boolean }) => run(() => showCommand(id, opts))());

  program
    .command("retry <charge_id>")
    .description("put a charge in needs_review or retrying back in line for the next pass")
    .option("--note <text>", "why, for the attempt history")
    .action(async (id: string, opts: { note?: string }) => run(() => retryCommand(id, opts))());

  program
    .command("resolve <charge_id>")
    .description("record a delivery done by hand; the charge is no longer stuck")
    .requiredOption("--note <text>", "what was done (required)")
    .action(async (id: string, opts: { note?: string }) => run(() => resolveCommand(id, opts))());

  program
    .command("resend <charge_id>")
    .description("send a delivered, resolved or bounced charge's products again, with fresh download links")
    .option("--to <email>", "send to this address, for this and later sends")
    .action(async (id: string, opts: { to?: string }) => run(() => resendCommand(id, opts))());

  program
    .command("evidence <charge_id>")
    .description("delivery proof for a dispute: the emails Resend accepted and every download")
    .option("--json", "print the evidence as JSON")
    .option("--attach", "save it as draft evidence on the charge's open dispute (needs dispute write access)")
    .action(async (id: string, opts: { json?: boolean; attach?: boolean }) => run(() => evidenceCommand(id, opts))());

  program
    .command("check")
    .description("validate keys, config, templates, attachments and the ledger without delivering")
    .action(async () => run(() => checkCommand())());

  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  let code: ExitCode = EXIT.ok;
  try {
    await buildProgram((c) => (code = c)).parseAsync(argv);
  } catch (err) {
    code = exitCodeFor(err);
  }
  // Let winston flush before the exit code is set for good.
  process.exitCode = code;
}

function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof CommanderError) {
    const benign = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code);
    return benign ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof PaidupError) {
    process.stderr.write(`paidup: ${redact(err.message)}\n${err.hint ? `  hint: ${redact(err.hint)}\n` : ""}`);
    return err.exitCode;
  }
  // An unexpected failure: nothing is committed without a confirmed send, so the next pass picks up.
  process.stderr.write(`paidup: unexpected failure: ${redact(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
  return EXIT.runtime;
}
