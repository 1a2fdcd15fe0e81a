import type { Thresholds } from "../thresholds";
import type { Ledger } from "../ledger";
import { isoMs } from "../duration";
import type { AfterDeliveryEvent } from "../ledger";
import { passHealth, PassHealth } from "./pass-record";
import { StuckEntry, stuckEntry } from "./report";
import type { StripeSource } from "../stripe/stripe-source";
import type { Config } from "../config";

// The judging of charges the ledger has no row for (./missing-charges) loads only when Stripe is
// asked: `status --offline`, run by a cron monitor every minute, starts without it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const missing = () => require("./missing-charges") as typeof import("./missing-charges");

/**
 * The catalog, loaded only when a charge without a row needs judging (status starts without zod
 * otherwise); null when the config cannot be loaded: such charges are then reported as missing.
 */
export type CatalogLoader = () => Promise<Pick<Config, "products" | "ignore"> | null>;

/** The contract's `status --json` object. */
export interface StatusReport {
  ok: boolean;
  lastPass: PassHealth["lastPass"];
  stuck: StuckEntry[];
  /** Delivered, then refunded or disputed (last 30 days): not stuck, never changes `ok`. */
  afterDelivery: AfterDeliveryEntry[];
}

export interface AfterDeliveryEntry {
  charge: string;
  event: AfterDeliveryEvent;
  at: string;
  downloads: number;
}

const AFTER_DELIVERY_DAYS_MS = 30 * 86_400_000;

async function afterDelivery(ledger: Ledger, now: number): Promise<AfterDeliveryEntry[]> {
  let rows;
  try {
    rows = await ledger.afterDeliverySince(now - AFTER_DELIVERY_DAYS_MS);
  } catch (err) {
    // A ledger not yet migrated (status opens it read-only) has no such table: nothing to list.
    if (/no such table|does not exist/.test(String(err))) return [];
    throw err;
  }
  return rows.map((r) => ({ charge: r.charge_id, event: r.event, at: isoMs(r.at), downloads: r.downloads }));
}

/** Everything stuck, and the health of the last pass. Reads only; `stripe` null = --offline. */
export async function collectStatus(ledger: Ledger, stripe: StripeSource | null, config: Thresholds, now: number, catalog: CatalogLoader = async () => null): Promise<StatusReport> {
  const olderThan = now - config.stuckAfterMs;
  const stuck = (await ledger.stuck(olderThan)).map(stuckEntry);
  if (stripe) stuck.push(...(await missing().missingCharges(ledger, stripe, now, config.stuckAfterMs, catalog)));
  stuck.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  const { lastPass } = await passHealth(ledger, config.staleAfterMs, now);
  // A single failed pass is not yet an alarm: staleness (no success for staleAfter) is.
  return { ok: lastPass !== null && !lastPass.stale && stuck.length === 0, lastPass, stuck, afterDelivery: await afterDelivery(ledger, now) };
}
