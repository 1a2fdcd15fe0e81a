import type { ChargeRow } from "./charges";
import type { Sql } from "./sql";

// One buyer as `lookup` sees them: every charge of an address, found by the address it has now
// (the charges_by_email index on lower(email), shared with the buyers' page) or by one it had
// before `resend --to` corrected it (charge_addresses, written by recordResent).

/**
 * Every charge of an address, newest first. lower(email) is spelled as the charges_by_email
 * index is, so both backends walk that index instead of every charge (ledger-schema pins it).
 */
export const BUYER_CHARGES_SQL = `SELECT * FROM charges WHERE lower(email) = ?
     UNION
     SELECT c.* FROM charge_addresses a JOIN charges c ON c.id = a.charge_id WHERE a.email = ?
     ORDER BY created DESC, id DESC`;

/** Every charge of the address (any case), newest first. */
export function chargesOfBuyer(db: Sql, email: string): Promise<ChargeRow[]> {
  const lower = email.toLowerCase();
  return db.query<ChargeRow>(BUYER_CHARGES_SQL, [lower, lower]);
}

/** Addresses the charge had before a correction, oldest first. */
export async function formerAddresses(db: Sql, charge: string): Promise<string[]> {
  return (await db.query<{ email: string }>("SELECT email FROM charge_addresses WHERE charge_id = ? ORDER BY replaced_at, email", [charge])).map((r) => r.email);
}

/** Downloads counted for the charge, over every rendering of its links. */
export async function downloadCount(db: Sql, charge: string): Promise<number> {
  const row = await db.one<{ n: unknown }>("SELECT COALESCE(SUM(downloads), 0) AS n FROM download_links WHERE charge_id = ?", [charge]);
  return Number(row?.n ?? 0);
}

/** Keeps the address being replaced, so the buyer is still found by it (inside recordResent's transaction). */
export async function keepFormerAddress(db: Sql, charge: string, to: string, now: number): Promise<void> {
  await db.exec(
    `INSERT INTO charge_addresses (charge_id, email, replaced_at)
     SELECT id, lower(email), ? FROM charges WHERE id = ? AND email IS NOT NULL AND lower(email) <> lower(?)
     ON CONFLICT (charge_id, email) DO NOTHING`,
    [now, charge, to],
  );
}
