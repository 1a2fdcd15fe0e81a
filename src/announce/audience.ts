import type { Ledger, NewRecipient } from "../ledger";

// Who hears about an update: every distinct address (lower-cased; the corrected one after
// `resend --to`) with a delivered or resolved purchase of the product. Left out, in this order
// and counted once per address: an address whose every such purchase was refunded in full or
// disputed after delivery (`refunded`; one good purchase keeps it in), an address that
// unsubscribed (`unsubscribed`), an address whose latest purchase email bounced (`bounced`).
// A buyer who bought twice is one recipient, named from the newest purchase.

export interface Audience {
  recipients: NewRecipient[];
  excluded: { refunded: number; unsubscribed: number; bounced: number };
}

export async function takeAudience(ledger: Ledger, product: string): Promise<Audience> {
  // One after the other: inside a transaction the ledger is one connection (node-postgres warns,
  // and pg 9 will refuse, a query sent while another is still running on it).
  const candidates = await ledger.audienceCandidates(product);
  const unsubscribed = await ledger.unsubscribedAddresses();
  const bounced = await ledger.latestPurchaseBounced();
  // Oldest purchase first: the audience keeps the order of first purchase.
  const byAddress = new Map<string, { good: typeof candidates; any: number }>();
  for (const c of candidates) {
    const entry = byAddress.get(c.email) ?? { good: [], any: 0 };
    entry.any++;
    if (c.revoked === 0) entry.good.push(c);
    byAddress.set(c.email, entry);
  }
  const audience: Audience = { recipients: [], excluded: { refunded: 0, unsubscribed: 0, bounced: 0 } };
  for (const [email, { good }] of byAddress) {
    if (good.length === 0) audience.excluded.refunded++;
    else if (unsubscribed.has(email)) audience.excluded.unsubscribed++;
    else if (bounced.get(email) === true) audience.excluded.bounced++;
    else {
      const newest = good[good.length - 1] as (typeof good)[number];
      const named = [...good].reverse().find((c) => c.name);
      audience.recipients.push({ email, name: named?.name ?? null, charge: newest.charge_id });
    }
  }
  return audience;
}
