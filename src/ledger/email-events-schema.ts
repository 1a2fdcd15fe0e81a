// The tables of ./email-events.ts, in SQL both SQLite and PostgreSQL accept.
export const EMAIL_EVENTS_SCHEMA = `
  CREATE TABLE email_events (
    id TEXT PRIMARY KEY,               -- svix-id of a Resend webhook ('poll:<email>:<event>' when polled): duplicates dropped by this key
    email_id TEXT NOT NULL,
    charge_id TEXT,                    -- null: an email paidup did not send (acknowledged, kept for dedupe only)
    type TEXT NOT NULL,                -- Resend's event, e.g. 'email.bounced'
    at BIGINT NOT NULL,                -- when Resend says it happened
    detail TEXT,                       -- Resend's reason (bounce message), if any
    source TEXT NOT NULL,              -- 'webhook' or 'poll'
    received_at BIGINT NOT NULL
  );
  CREATE INDEX email_events_by_charge ON email_events (charge_id, at);
  CREATE INDEX email_events_by_email ON email_events (email_id);

  CREATE INDEX charges_by_state_since ON charges (state_since);

  CREATE TABLE email_checks (
    email_id TEXT PRIMARY KEY,         -- a delivery email the passes asked Resend about (emails.get)
    charge_id TEXT NOT NULL,
    checked_at BIGINT NOT NULL,
    last_event TEXT
  );
`;
