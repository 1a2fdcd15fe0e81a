import { RuntimeFailure, UsageError } from "../../errors";
import { redact } from "../../redact";

// PostgreSQL failures, classified once: a configuration the operator must fix is exit 2, a
// server that is down, busy or refusing writes is exit 3 (nothing was lost; the next pass picks up).

const NETWORK = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

export function asPgLedgerError(err: unknown, where: string): Error {
  if (err instanceof UsageError || err instanceof RuntimeFailure) return err;
  const code = (err as { code?: string }).code ?? "";
  const message = redact(err instanceof Error ? err.message : String(err));
  if (NETWORK.has(code) || /timeout exceeded when trying to connect|Connection terminated/i.test(message)) {
    return new RuntimeFailure(`cannot reach the ledger database ${where} (${code || message})`, "check that PostgreSQL is running and reachable; nothing was changed, the next pass picks up");
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
  if (code === "53300" || code.startsWith("08") || code === "57P01" || code === "57P03") {
    return new RuntimeFailure(`the ledger database ${where} is unavailable (${message})`, "nothing was changed; the next pass picks up");
  }
  return err instanceof Error ? err : new Error(String(err));
}
