import type { Sql } from "./sql";

// What keeps an address out of announcements, or lets it back in: addresses that unsubscribed
// (RFC 8058 one-click or the page's button), and disputes of delivered charges the shop won.
// Purchase deliveries never read these tables.

export async function unsubscribedAddresses(db: Sql): Promise<Set<string>> {
  return new Set((await db.query<{ email: string }>("SELECT email FROM unsubscribes")).map((r) => r.email));
}

/** An address leaves announcements; true if it was new. Purchases and their deliveries are untouched. */
export async function unsubscribe(db: Sql, email: string, source: string, now: number): Promise<boolean> {
  const changed = await db.exec("INSERT INTO unsubscribes (email, at, source) VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING", [email.toLowerCase(), now, source]);
  return changed === 1;
}

export async function isUnsubscribed(db: Sql, email: string): Promise<boolean> {
  return (await db.one("SELECT 1 AS x FROM unsubscribes WHERE email = ?", [email.toLowerCase()])) !== undefined;
}

/** The shop won the dispute of a delivered charge (Stripe said so when it closed); true if new. */
export async function recordDisputeWon(db: Sql, charge: string, now: number): Promise<boolean> {
  return (await db.exec("INSERT INTO disputes_won (charge_id, at) VALUES (?, ?) ON CONFLICT (charge_id) DO NOTHING", [charge, now])) === 1;
}
