// The table of ./buyers.ts, in SQL both SQLite and PostgreSQL accept.
export const BUYERS_SCHEMA = `
  CREATE TABLE charge_addresses (
    charge_id TEXT NOT NULL REFERENCES charges (id),
    email TEXT NOT NULL,               -- lower-cased: an address the charge had before \`resend --to\` corrected it
    replaced_at BIGINT NOT NULL,
    PRIMARY KEY (charge_id, email)
  );
  CREATE INDEX charge_addresses_by_email ON charge_addresses (email);
`;
