// The tables of ./announcements.ts (schema step 5), in SQL both SQLite and PostgreSQL accept
// (BIGINT is INTEGER to SQLite). No foreign keys: move-ledger copies tables it does not know in
// name order, and these rows are only ever written by the announcement operations.

export const ANNOUNCEMENTS_SCHEMA = `
  CREATE TABLE announcements (
    id TEXT PRIMARY KEY,               -- sha-256 of product, subject and bodies: the same command resumes it
    product TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT,
    excluded_refunded INTEGER NOT NULL,     -- left out when the audience was taken, once per address
    excluded_unsubscribed INTEGER NOT NULL,
    excluded_bounced INTEGER NOT NULL,
    batches INTEGER NOT NULL DEFAULT 0,     -- batches recorded so far: numbers the next key
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );

  CREATE TABLE announcement_recipients (
    announcement_id TEXT NOT NULL,
    position INTEGER NOT NULL,         -- order of the audience: batches take the lowest pending first
    email TEXT NOT NULL,               -- lower-cased, the corrected address after resend --to
    name TEXT,                         -- from the address's newest charge
    charge_id TEXT NOT NULL,           -- that charge: fresh download links are issued for it
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'unknown', 'unsubscribed')),
    batch_key TEXT,                    -- the recorded batch that carries (or carried) this email
    email_id TEXT,
    error TEXT,                        -- why the last send of it failed, if it did
    sent_at BIGINT,                    -- when Resend accepted it
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (announcement_id, position),
    UNIQUE (announcement_id, email),
    -- Sent means Resend returned an id for it, enforced by the database itself.
    CHECK (state <> 'sent' OR email_id IS NOT NULL)
  );
  CREATE INDEX announcement_recipients_by_state ON announcement_recipients (announcement_id, state, position);
  CREATE INDEX announcement_recipients_by_email ON announcement_recipients (email);
  CREATE INDEX announcement_recipients_by_batch ON announcement_recipients (batch_key);

  CREATE TABLE announcement_batches (
    key TEXT PRIMARY KEY,              -- its Idempotency-Key: every request of this batch carries it
    announcement_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL,                -- the exact emails sent, so a replay is byte-identical
    state TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'split', 'unknown')),
    lease_owner TEXT,
    lease_until BIGINT,
    first_sent_at BIGINT,              -- the first request: Resend's 24 h window runs from here
    outcome_unknown INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX announcement_batches_open ON announcement_batches (announcement_id, state);

  CREATE TABLE unsubscribes (
    email TEXT PRIMARY KEY,            -- lower-cased; no more announcements to it
    at BIGINT NOT NULL,
    source TEXT NOT NULL               -- 'one-click' (RFC 8058 POST) or 'page' (the button)
  );
`;

// Disputes of delivered charges that the shop won (Stripe's word, read when the dispute closed):
// such a purchase counts again for announcements (after_delivery keeps its 'disputed' row, which
// revokes download links for good).
export const DISPUTES_WON_SCHEMA = `
  CREATE TABLE disputes_won (
    charge_id TEXT PRIMARY KEY,
    at BIGINT NOT NULL
  );
`;
