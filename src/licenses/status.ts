import type { LicenseRow } from "../ledger";

// A key's status in the words of Lemon Squeezy's API: disabled (a refund, a dispute or the
// owner) before expired, expired before active; `inactive` means never activated.

export type LicenseStatus = "inactive" | "active" | "expired" | "disabled";

export function statusOf(row: LicenseRow, now: number): LicenseStatus {
  if (row.disabled_by !== null) return "disabled";
  if (row.expires_at !== null && row.expires_at <= now) return "expired";
  return row.first_activated_at === null ? "inactive" : "active";
}

/** Why a key cannot be used now, or null when it can. */
export function unusableReason(status: LicenseStatus): string | null {
  if (status === "disabled") return "This license key is disabled.";
  if (status === "expired") return "This license key has expired.";
  return null;
}
