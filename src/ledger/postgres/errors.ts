import { DatabaseUnavailable, RuntimeFailure, UsageError } from "../../errors";
import { redact } from "../../redact";

// PostgreSQL failures, classified once: a configuration the operator must fix is exit 2, a
// server that is down, busy or refusing writes is exit 3 (nothing was lost; the next pass picks up).

const NETWORK = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

/**
 * The server ended the session or cannot take one now: a restart or fast shutdown (57P01), a
 * crash of another backend (57P02), starting up or shutting down (57P03), too many clients
 * (53300), a connection failure (class 08). node-postgres reports a session that simply ended
 * without a code: "Connection terminated unexpectedly", then "not queryable" on that client.
 */
const SESSION_ENDED = /Connection terminated|not queryable|terminating connection|server closed the connection/i;
function serverUnavailable(code: string, message: string): boolean {
  return code === "57P01" || code === "57P02" || code === "57P03" || code === "53300" || code.startsWith("08") || (code === "" && SESSION_ENDED.test(message));
}

/** Whether a ledger failure means the database is unavailable for now (exit 3; a later try may succeed). */
export function isPgUnavailable(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code ?? "");
  const message = err instanceof Error ? err.message : String(err);
  return NETWORK.has(code) || /timeout exceeded when trying to connect/i.test(message) || serverUnavailable(code, message);
}

export function asPgLedgerError(err: unknown, where: string): Error {
  if (err instanceof UsageError || err instanceof RuntimeFailure) return err;
  const code = (err as { code?: string }).code ?? "";
  const message = redact(err instanceof Error ? err.message : String(err));
  if (NETWORK.has(code) || /timeout exceeded when trying to connect/i.test(message)) {
    return new DatabaseUnavailable(`cannot reach the ledger database ${where} (${code || message})`, "check that PostgreSQL is running and reachable; nothing was changed, the next pass picks up");
  }
  if (code === "28P01" || code === "28000") {
    return new UsageError(`PostgreSQL refused the login to ${where}: ${message}`, "check the user and password in PAIDUP_DATABASE_URL");
  }
  if (code === "3D000") return new UsageError(`the database of ${where} does not exist`, "create it (createdb), then run `paidup init`");
  if (code === "55P03" || code === "40P01" || code === "40001" || code === "57014") {
    return new RuntimeFailure(`ledger ${where} is locked by another process (${code})`, "nothing was changed; the next pass picks up");
  }
  if (code === "42501" || code === "25006") {
    return new RuntimeFailure(`ledger ${where} cannot be written (${message})`, "grant the user INSERT, UPDATE and SELECT on the ledger's tables");
  }
  if (serverUnavailable(code, message)) {
    return new DatabaseUnavailable(`the ledger database ${where} is unavailable (${code ? `${code}: ` : ""}${message})`, "nothing unconfirmed was recorded; the next pass picks up");
  }
  return err instanceof Error ? err : new Error(String(err));
}
