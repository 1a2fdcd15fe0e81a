import { UsageError } from "../../errors";
import { registerSecret } from "../../redact";

/** The URL as messages may show it: never the password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return "the database in PAIDUP_DATABASE_URL";
  }
}

/** Checks the form of PAIDUP_DATABASE_URL and makes its password a registered secret. */
export function checkDatabaseUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError("PAIDUP_DATABASE_URL is not a URL", "e.g. postgres://paidup:<password>@db.example.com:5432/paidup");
  }
  if (u.password) registerSecret(decodeURIComponent(u.password));
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new UsageError(`PAIDUP_DATABASE_URL must start with postgres:// (got ${u.protocol}//)`, "unset it to keep the ledger in SQLite (PAIDUP_DB)");
  }
}
