import type { License } from "../config";
import type { Ledger } from "../ledger";
import { hashKey, makeKey, newLicenseId } from "./keys";

// The `license` placeholder of a product's email. The key is stored in the ledger before the
// email is rendered, once per (charge, product): a repeat of that email after a crash, a retry
// and `paidup resend` all render the very same key.

/** The `license` of a template (the shape of delivery's LicenseVar). */
export interface LicenseVar {
  key: string;
  activations: number;
  expires: string;
}

export interface LicenseRequest {
  charge: string;
  product: string;
  license: License;
  /** The quantity of the product's line item (1 without line items). */
  quantity: number;
  customerId: string | null;
}

/** "2027-12-02": the day the key stops working, counted from when it was made (never later than the truth). */
export function formatLicenseExpiry(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toISOString().slice(0, 10);
}

export async function licenseVar(ledger: Ledger, req: LicenseRequest, now: number): Promise<LicenseVar> {
  const existing = await ledger.licenseOf(req.charge, req.product);
  const key = existing ? null : makeKey(req.license.prefix);
  const row = existing ?? (await ledger.issueLicense({
    id: newLicenseId(), charge: req.charge, product: req.product, key: key as string, keyHash: hashKey(key as string),
    activationLimit: req.license.activations * Math.max(1, req.quantity), expiresAfterMs: req.license.expiresAfterMs, customerId: req.customerId,
  }, now));
  // The expiry runs from Resend's acceptance, which comes after the key was made: the date shown
  // (made + expiresAfter) is the earliest the key can expire, the same on every re-render.
  return {
    key: row.license_key,
    activations: row.activation_limit,
    expires: formatLicenseExpiry(row.expires_after_ms === null ? null : row.created_at + row.expires_after_ms),
  };
}
