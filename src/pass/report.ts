import { isoSeconds } from "../duration";
import type { ChargeRow } from "../ledger";
import { MISSING } from "../states";

/** One stuck (or undelivered) charge, in the contract's JSON shape. */
export interface StuckEntry {
  charge: string;
  state: string;
  reason: string | null;
  attempts: number;
  amount: number;
  currency: string;
  email: string | null;
  product: string | null;
  created: string;
}

export function stuckEntry(row: ChargeRow): StuckEntry {
  return {
    charge: row.id,
    state: row.state,
    reason: row.reason,
    attempts: row.attempts,
    amount: row.amount,
    currency: row.currency,
    email: row.email,
    product: row.product,
    created: isoSeconds(row.created),
  };
}

export function missingEntry(c: { id: string; amount: number; currency: string; created: number; email: string | null }): StuckEntry {
  return {
    charge: c.id,
    state: MISSING,
    reason: "paid in Stripe but no pass has recorded it",
    attempts: 0,
    amount: c.amount,
    currency: c.currency,
    email: c.email,
    product: null,
    created: isoSeconds(c.created),
  };
}
