import type { Command } from "commander";
import type { ServeFlags } from "./commands/serve";
import { ignoreClosedReaders, runCli } from "./cli-run";
import { offlineStatusFlags } from "./offline-flags";
import { EXIT, ExitCode } from "./errors";

// The CLI wires commands to functions; ./cli-run runs them and maps every failure to the
// contract's exit codes.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require("../../package.json") as { version: string };

type AnnounceFlagsCli = { subject: string; text: string; html?: string; dryRun?: boolean; json?: boolean };

type Action = () => Promise<ExitCode> | ExitCode;

/* eslint-disable @typescript-eslint/no-require-imports -- A command's module, and with it the
   libraries only it needs (Stripe, Resend, zod, winston, SQLite, node-cron, Fastify, pg), loads
   when that command runs: `paidup --version` and `status --offline` start about as fast as node. */
const commands = {
  init: () => require("./commands/init") as typeof import("./commands/init"),
  reconcile: () => require("./commands/reconcile") as typeof import("./commands/reconcile"),
  serve: () => require("./commands/serve") as typeof import("./commands/serve"),
  daemon: () => require("./commands/daemon") as typeof import("./commands/daemon"),
  status: () => require("./commands/status") as typeof import("./commands/status"),
  show: () => require("./commands/show") as typeof import("./commands/show"),
  retry: () => require("./commands/retry") as typeof import("./commands/retry"),
  resolve: () => require("./commands/resolve") as typeof import("./commands/resolve"),
  check: () => require("./commands/check") as typeof import("./commands/check"),
  resend: () => require("./commands/resend") as typeof import("./commands/resend"),
  evidence: () => require("./commands/evidence") as typeof import("./commands/evidence"),
  license: () => require("./commands/license") as typeof import("./commands/license"),
  lookup: () => require("./commands/lookup") as typeof import("./commands/lookup"),
  announce: () => require("./commands/announce") as typeof import("./commands/announce"),
  moveLedger: () => require("./commands/move-ledger") as typeof import("./commands/move-ledger"),
};
const commander = () => require("commander") as typeof import("commander");
const logger = () => (require("./log") as typeof import("./log")).log;
/* eslint-enable @typescript-eslint/no-require-imports */

/** SIGTERM/SIGINT ask the work in hand to stop after the send in flight. */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    logger().info(`${sig} received: finishing the send in flight, then stopping`);
    controller.abort();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return controller.signal;
}

export function buildProgram(setExit: (code: ExitCode) => void): Command {
  const program = new (commander().Command)("paidup")
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
    .option("--yes", "confirm a start line more than a year back")
    .action(async (opts: { since?: string; yes?: boolean }) =>
      run(async () => {
        for (const line of (await commands.init().initCommand(opts, Date.now())).lines) process.stdout.write(line + "\n");
        return EXIT.ok;
      })(),
    );

  program
    .command("reconcile")
    .description("one pass: list, compare, deliver, commit, report")
    .option("--dry-run", "change nothing, send nothing; print what would be done")
    .option("--since <when>", "widen this pass's listing back to <when> (never before the start line)")
    .option("--json", "print the pass's counts and undelivered charges as JSON")
    .action(async (opts: { dryRun?: boolean; since?: string; json?: boolean }) => run(() => commands.reconcile().reconcileCommand(opts, stopSignal()))());

  program
    .command("serve")
    .description("receive Stripe webhooks at POST /webhooks/stripe and deliver at once")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on", "8787")
    .action(async (opts: ServeFlags) => run(() => commands.serve().serveCommand(opts, stopSignal()))());

  program
    .command("daemon")
    .description("run reconcile on a schedule, never two passes at once; stops cleanly on SIGTERM/SIGINT")
    .option("--schedule <cron>", 'cron expression (a leading sixth field counts seconds)', "* * * * *")
    .option("--serve", "also receive Stripe webhooks in this process (see serve)")
    .option("--host <host>", "with --serve: address to listen on", "127.0.0.1")
    .option("--port <port>", "with --serve: port to listen on", "8787")
    .action(async (opts: { schedule?: string; serve?: boolean; host: string; port: string }) => run(() => commands.daemon().daemonCommand(opts, stopSignal()))());

  program
    .command("status")
    .description("list stuck charges and the health of the last pass (read-only)")
    .option("--json", "print the status as JSON")
    .option("--offline", "read the ledger alone, without asking Stripe")
    .action(async (opts: { json?: boolean; offline?: boolean }) => run(() => commands.status().statusCommand(opts))());

  program
    .command("show <charge_id>")
    .description("one charge: its Stripe facts, its ledger state and every delivery attempt")
    .option("--json", "print the charge as JSON")
    .action(async (id: string, opts: { json?: boolean }) => run(() => commands.show().showCommand(id, opts))());

  program
    .command("retry <charge_id>")
    .description("put a charge in needs_review or retrying back in line for the next pass")
    .option("--note <text>", "why, for the attempt history")
    .action(async (id: string, opts: { note?: string }) => run(() => commands.retry().retryCommand(id, opts))());

  program
    .command("resolve <charge_id>")
    .description("record a delivery done by hand; the charge is no longer stuck")
    .requiredOption("--note <text>", "what was done (required)")
    .action(async (id: string, opts: { note?: string }) => run(() => commands.resolve().resolveCommand(id, opts))());

  program
    .command("resend <charge_id>")
    .description("send a delivered, resolved or bounced charge's products again, with fresh download links")
    .option("--to <email>", "send to this address, for this and later sends")
    .action(async (id: string, opts: { to?: string }) => run(() => commands.resend().resendCommand(id, opts))());

  program
    .command("evidence <charge_id>")
    .description("delivery proof for a dispute: the emails Resend accepted and every download")
    .option("--json", "print the evidence as JSON")
    .option("--attach", "save it as draft evidence on the charge's open dispute (needs dispute write access)")
    .action(async (id: string, opts: { json?: boolean; attach?: boolean }) => run(() => commands.evidence().evidenceCommand(id, opts))());

  program
    .command("license <key_or_charge_or_action> [more...]")
    .description("a license key (or a charge's keys) and its instances; license disable|enable <key>; license deactivate <key> <instance_id>")
    .option("--json", "print the key(s) as JSON")
    .action(async (first: string, more: string[], opts: { json?: boolean }) => run(() => commands.license().licenseCommand([first, ...more], opts))());

  program
    .command("announce <product>")
    .description("email every past buyer of <product> once (an update, a new version); resumable, one-click unsubscribe")
    .requiredOption("--subject <text>", "the subject (a template: {{name}}, {{product}}, …)")
    .requiredOption("--text <file>", "the text body (a template with {{name}}, {{email}}, {{product}}, {{unsubscribe}}, {{#downloads}}…)")
    .option("--html <file>", "an HTML body too")
    .option("--dry-run", "send and record nothing; print the audience, start or resume, and one rendered sample")
    .option("--json", "print the counts as JSON")
    .action(async (product: string, opts: AnnounceFlagsCli) => run(() => commands.announce().announceCommand(product, opts, stopSignal()))());

  program
    .command("lookup <email>")
    .description("everything the ledger knows about one buyer: each charge, its emails, downloads and license keys, announcements (read-only)")
    .option("--json", "print it as JSON")
    .action(async (email: string, opts: { json?: boolean }) => run(() => commands.lookup().lookupCommand(email, opts))());

  program
    .command("check")
    .description("validate keys, config, templates, attachments and the ledger without delivering")
    .option("--alert", "also send one test alert through every alert channel (email to alertTo, PAIDUP_ALERT_WEBHOOK_URL)")
    .action(async (opts: { alert?: boolean }) => run(() => commands.check().checkCommand(opts))());

  program
    .command("move-ledger")
    .description("copy the SQLite ledger into an empty PostgreSQL ledger and verify it row for row; nothing is deleted")
    .requiredOption("--to <postgres url>", "the PostgreSQL database (postgres://user@host/db; the password may come from PGPASSWORD)")
    .action(async (opts: { to?: string }) => run(() => commands.moveLedger().moveLedgerCommand(opts))());

  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Answered before anything else loads: install checks and monitors ask for it often.
  if (argv.length === 3 && (argv[2] === "--version" || argv[2] === "-V")) {
    ignoreClosedReaders();
    process.stdout.write(version + "\n");
    return;
  }
  await runCli(argv, async () => {
    // Also served by dist/status.js (./status-main), which bin/paidup runs for it when built.
    const offlineStatus = offlineStatusFlags(argv);
    if (offlineStatus) return commands.status().statusCommand(offlineStatus);
    let code: ExitCode = EXIT.ok;
    await buildProgram((c) => (code = c)).parseAsync(argv);
    return code;
  });
}
