// The tables of ./licenses.ts, in SQL both SQLite and PostgreSQL accept (BIGINT is INTEGER to
// SQLite). One key per (charge, product); its instances (activations) beside it.
export const LICENSES_SCHEMA = `
  CREATE TABLE license_keys (
    id TEXT PRIMARY KEY,               -- the public id answers and certificates name (never the key)
    charge_id TEXT NOT NULL,
    product TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,     -- sha256 of the key: requests are looked up by it
    license_key TEXT NOT NULL,         -- the key itself, for re-renders of the email and the owner
    activation_limit INTEGER NOT NULL,
    activation_usage INTEGER NOT NULL DEFAULT 0,
    expires_after_ms BIGINT,           -- null: never expires
    created_at BIGINT NOT NULL,
    expires_at BIGINT,                 -- set when Resend first accepted the email carrying it
    first_activated_at BIGINT,         -- null: 'inactive'
    customer_id TEXT,
    disabled_by TEXT CHECK (disabled_by IN ('owner', 'refunded', 'disputed')),
    updated_at BIGINT NOT NULL,
    UNIQUE (charge_id, product)
  );

  CREATE TABLE license_instances (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES license_keys (id),
    name TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deactivated_at BIGINT
  );
  CREATE INDEX license_instances_by_key ON license_instances (key_id, created_at);
`;
