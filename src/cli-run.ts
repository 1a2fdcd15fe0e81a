import { loadEnv } from "./env";
import { EXIT, ExitCode, PaidupError, RuntimeFailure } from "./errors";
import { configureLogging, log } from "./log";
import { redact } from "./redact";

// How every command runs, whichever entry point started it (./cli, or ./status-main for a
// cron monitor's `status --offline`): the environment and logging first, then the command,
// then every failure mapped to the contract's exit codes, here and nowhere else.

// Only a command-line mistake needs it, and commander's own commands have loaded it by then.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const commander = () => require("commander") as typeof import("commander");

/** Runs `command` and sets the process's exit code from its result or its failure. */
export async function runCli(argv: string[], command: () => Promise<ExitCode>): Promise<void> {
  ignoreClosedReaders();
  let code: ExitCode = EXIT.ok;
  // A failed command with --json still prints one JSON object on stdout, for scripts.
  const json = argv.slice(2).includes("--json");
  try {
    // .env first, so LOG_LEVEL set there counts; a bad level is exit 2 before anything runs.
    loadEnv();
    configureLogging();
    code = await command();
  } catch (err) {
    code = reportFailure(err, json);
  }
  // Let winston flush before the exit code is set for good.
  process.exitCode = code;
}

/**
 * A reader that closed the pipe (`paidup lookup … | head -1`, a monitor reading only the exit
 * code) makes the next write fail with EPIPE. Unheard, that error ends the process with a stack
 * trace, possibly mid-pass; heard, the output is dropped and the command finishes what it does,
 * with its own exit code.
 */
export function ignoreClosedReaders(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE" && err.code !== "ERR_STREAM_DESTROYED") throw err;
    });
  }
}

/** Prints a failure once, without a stack trace, and gives its exit code. */
function reportFailure(err: unknown, json: boolean): ExitCode {
  // Read by its code, not its class: a failure of `status --offline` must not load commander.
  if (String((err as { code?: unknown })?.code ?? "").startsWith("commander.") && err instanceof commander().CommanderError) {
    // Help and version asked for exit 0; `paidup` alone prints the help on stderr with exit code 1
    // from commander, which we make a usage error: a cron line with an empty variable must not "succeed".
    const benign = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(err.code) && err.exitCode === 0;
    if (benign) return EXIT.ok;
    if (json) printJsonError(err.message.replace(/^error: /, ""), undefined, EXIT.usage);
    return EXIT.usage;
  }
  const failure = asPaidupError(err);
  process.stderr.write(`paidup: ${redact(failure.message)}\n${failure.hint ? `  hint: ${redact(failure.hint)}\n` : ""}`);
  if (json) printJsonError(failure.message, failure.hint, failure.exitCode);
  return failure.exitCode;
}

function printJsonError(message: string, hint: string | undefined, exitCode: ExitCode): void {
  process.stdout.write(JSON.stringify({ error: { message: redact(message), hint: hint === undefined ? null : redact(hint), exitCode } }, null, 2) + "\n");
}

/**
 * Known failures keep their class; anything else is unexpected. Its stack goes to the debug log,
 * not to the user: nothing is committed without a confirmed send, so the next pass picks up.
 */
function asPaidupError(err: unknown): PaidupError {
  if (err instanceof PaidupError) return err;
  const code = String((err as { code?: unknown })?.code ?? "");
  if (code.startsWith("SQLITE_")) {
    // The SQLite driver classifies its failures; this is the net under anything it missed.
    return new RuntimeFailure(`the ledger at ${loadEnv().dbPath} failed (${code})`, "nothing unconfirmed was recorded; `paidup check` looks at the ledger");
  }
  const databaseUrl = loadEnv().databaseUrl;
  if (databaseUrl) {
    // The same net for PostgreSQL: a command whose session the server ended (a restart, a
    // failover) between its own statements is exit 3 "unavailable", not a failure to report.
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded only on this path */
    const pgErrors = require("./ledger/postgres/errors") as typeof import("./ledger/postgres/errors");
    const { describeUrl } = require("./ledger/postgres/url") as typeof import("./ledger/postgres/url");
    /* eslint-enable @typescript-eslint/no-require-imports */
    if (pgErrors.isPgUnavailable(err)) return pgErrors.asPgLedgerError(err, describeUrl(databaseUrl)) as PaidupError;
  }
  const text = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.stack) log.debug("unexpected failure", { stack: err.stack });
  return new RuntimeFailure(`unexpected failure: ${text}`, "nothing unconfirmed was recorded; the next pass picks up. LOG_LEVEL=debug shows where it happened; please report it");
}
