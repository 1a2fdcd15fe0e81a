import type { Sql } from "./sql";

// License keys (one per charge and product) and their instances. The key is made by the caller
// (licenses/keys.ts) and stored here once: asked again for the same (charge, product), the key
// stored first is returned, so every rendering of that purchase's email carries the same key.
// Requests find a key by its hash, never by comparing the key itself.

export type DisabledBy = "owner" | "refunded" | "disputed";

export interface LicenseRow {
  id: string;
  charge_id: string;
  product: string;
  key_hash: string;
  license_key: string;
  activation_limit: number;
  activation_usage: number;
  expires_after_ms: number | null;
  created_at: number;
  expires_at: number | null;
  first_activated_at: number | null;
  customer_id: string | null;
  disabled_by: DisabledBy | null;
  updated_at: number;
}

export interface InstanceRow {
  id: string;
  key_id: string;
  name: string;
  ip: string;
  created_at: number;
  deactivated_at: number | null;
}

export interface NewLicense {
  id: string;
  charge: string;
  product: string;
  key: string;
  keyHash: string;
  activationLimit: number;
  expiresAfterMs: number | null;
  customerId: string | null;
}

export type Activation = { kind: "activated"; instance: InstanceRow } | { kind: "refused"; license: LicenseRow };

const num = (v: unknown) => Number(v);
const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function asLicense(r: LicenseRow): LicenseRow {
  // PostgreSQL returns BIGINT as a string: numbers in, numbers out.
  return {
    ...r, activation_limit: num(r.activation_limit), activation_usage: num(r.activation_usage), expires_after_ms: numOrNull(r.expires_after_ms),
    created_at: num(r.created_at), expires_at: numOrNull(r.expires_at), first_activated_at: numOrNull(r.first_activated_at), updated_at: num(r.updated_at),
  };
}

function asInstance(r: InstanceRow): InstanceRow {
  return { ...r, created_at: num(r.created_at), deactivated_at: numOrNull(r.deactivated_at) };
}

/**
 * The key of (charge, product), made now if it has none. Two passes racing both get the key
 * stored first (the loser's insert does nothing). A purchase refunded or disputed before its key
 * was made gets it disabled, as one made before would have been.
 */
export async function issueLicense(db: Sql, req: NewLicense, now: number): Promise<LicenseRow> {
  return db.transaction(async (tx) => {
    await tx.exec(
      `INSERT INTO license_keys (id, charge_id, product, key_hash, license_key, activation_limit, activation_usage, expires_after_ms,
         created_at, customer_id, disabled_by, updated_at)
       VALUES (@id, @charge, @product, @hash, @key, @limit, 0, @after, @now, @customer,
         (SELECT min(event) FROM after_delivery WHERE charge_id = @charge), @now)
       ON CONFLICT (charge_id, product) DO NOTHING`,
      { id: req.id, charge: req.charge, product: req.product, hash: req.keyHash, key: req.key, limit: req.activationLimit, after: req.expiresAfterMs, customer: req.customerId, now },
    );
    return (await licenseOf(tx, req.charge, req.product)) as LicenseRow;
  });
}

export async function licenseOf(db: Sql, charge: string, product: string): Promise<LicenseRow | undefined> {
  const row = await db.one<LicenseRow>("SELECT * FROM license_keys WHERE charge_id = ? AND product = ?", [charge, product]);
  return row && asLicense(row);
}

export async function licenseByHash(db: Sql, hash: string): Promise<LicenseRow | undefined> {
  const row = await db.one<LicenseRow>("SELECT * FROM license_keys WHERE key_hash = ?", [hash]);
  return row && asLicense(row);
}

export async function licensesOfCharge(db: Sql, charge: string): Promise<LicenseRow[]> {
  return (await db.query<LicenseRow>("SELECT * FROM license_keys WHERE charge_id = ? ORDER BY created_at, product", [charge])).map(asLicense);
}

export async function instancesOf(db: Sql, keyId: string): Promise<InstanceRow[]> {
  return (await db.query<InstanceRow>("SELECT * FROM license_instances WHERE key_id = ? ORDER BY created_at, id", [keyId])).map(asInstance);
}

export async function instancesOfCharge(db: Sql, charge: string): Promise<(InstanceRow & { product: string })[]> {
  const rows = await db.query<InstanceRow & { product: string }>(
    "SELECT i.*, k.product FROM license_instances i JOIN license_keys k ON k.id = i.key_id WHERE k.charge_id = ? ORDER BY i.created_at, i.id",
    [charge],
  );
  return rows.map((r) => ({ ...asInstance(r), product: r.product }));
}

export async function getInstance(db: Sql, keyId: string, instanceId: string): Promise<InstanceRow | undefined> {
  const row = await db.one<InstanceRow>("SELECT * FROM license_instances WHERE key_id = ? AND id = ?", [keyId, instanceId]);
  return row && asInstance(row);
}

/**
 * Takes one activation slot and records the instance, or refuses (limit reached, disabled or
 * expired, as the row then says). The slot is taken by one conditional UPDATE of the key's row:
 * on PostgreSQL a second host racing for the last slot waits on the row lock and then finds the
 * condition false, so two activations can never both take it.
 */
export async function activateLicense(db: Sql, keyId: string, instance: { id: string; name: string; ip: string }, now: number): Promise<Activation> {
  return db.transaction(async (tx) => {
    const took = await tx.exec(
      `UPDATE license_keys SET activation_usage = activation_usage + 1, first_activated_at = coalesce(first_activated_at, @now), updated_at = @now
       WHERE id = @id AND activation_usage < activation_limit AND disabled_by IS NULL AND (expires_at IS NULL OR expires_at > @now)`,
      { id: keyId, now },
    );
    if (took !== 1) {
      const license = (await tx.one<LicenseRow>("SELECT * FROM license_keys WHERE id = ?", [keyId])) as LicenseRow;
      return { kind: "refused", license: asLicense(license) };
    }
    await tx.exec("INSERT INTO license_instances (id, key_id, name, ip, created_at, deactivated_at) VALUES (?, ?, ?, ?, ?, NULL)", [instance.id, keyId, instance.name, instance.ip, now]);
    return { kind: "activated", instance: (await getInstance(tx, keyId, instance.id)) as InstanceRow };
  });
}

/** Frees the instance's slot at once; false if it is unknown or already deactivated. */
export async function deactivateInstance(db: Sql, keyId: string, instanceId: string, now: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    const done = await tx.exec("UPDATE license_instances SET deactivated_at = ? WHERE key_id = ? AND id = ? AND deactivated_at IS NULL", [now, keyId, instanceId]);
    if (done !== 1) return false;
    await tx.exec("UPDATE license_keys SET activation_usage = activation_usage - 1, updated_at = ? WHERE id = ? AND activation_usage > 0", [now, keyId]);
    return true;
  });
}

/** The owner's `disable` / `enable`: enable overrides a refund or dispute already recorded. */
export async function setLicenseEnabled(db: Sql, keyId: string, enabled: boolean, now: number): Promise<boolean> {
  return (await db.exec("UPDATE license_keys SET disabled_by = ?, updated_at = ? WHERE id = ?", [enabled ? null : "owner", now, keyId])) === 1;
}

/**
 * A refund in full or a dispute newly recorded after delivery (called inside that record's
 * transaction): the charge's keys are disabled, unless the owner already disabled them.
 */
export async function disableForAfterDelivery(db: Sql, charge: string, event: "refunded" | "disputed", now: number): Promise<void> {
  await db.exec("UPDATE license_keys SET disabled_by = ?, updated_at = ? WHERE charge_id = ? AND disabled_by IS NULL", [event, now, charge]);
}

/**
 * A dispute the shop won: keys disabled by that dispute are active again, unless the charge was
 * also refunded in full. A key the owner disabled (or enabled) since is left as the owner set it.
 * True if a key changed.
 */
export async function enableAfterDisputeWon(db: Sql, charge: string, now: number): Promise<boolean> {
  const changed = await db.exec(
    `UPDATE license_keys SET updated_at = @now,
       disabled_by = CASE WHEN EXISTS (SELECT 1 FROM after_delivery WHERE charge_id = @charge AND event = 'refunded') THEN 'refunded' ELSE NULL END
     WHERE charge_id = @charge AND disabled_by = 'disputed'`,
    { charge, now },
  );
  return changed > 0;
}

/** Whether any key of the charge waits on a dispute's outcome (so only then is Stripe asked). */
export async function hasKeyDisabledByDispute(db: Sql, charge: string): Promise<boolean> {
  return (await db.one("SELECT 1 AS x FROM license_keys WHERE charge_id = ? AND disabled_by = 'disputed'", [charge])) !== undefined;
}

/**
 * Resend accepted the email carrying the key (called inside commitDelivered): a key with
 * `expiresAfter` starts counting now, once.
 */
export async function startLicenseExpiry(db: Sql, charge: string, product: string, now: number): Promise<void> {
  await db.exec(
    "UPDATE license_keys SET expires_at = ? + expires_after_ms, updated_at = ? WHERE charge_id = ? AND product = ? AND expires_at IS NULL AND expires_after_ms IS NOT NULL",
    [now, now, charge, product],
  );
}
