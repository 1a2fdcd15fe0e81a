// The runs of `paidup resend` (./resends.ts), in SQL both SQLite and PostgreSQL accept (BIGINT is
// INTEGER to SQLite): each run's payload per product, stored before its first send, so a run
// that failed or whose outcome is unknown is completed with the same key and the same bytes.
export const RESEND_RUNS_SCHEMA = `
  CREATE TABLE resend_runs (
    charge_id TEXT NOT NULL REFERENCES charges (id),
    run INTEGER NOT NULL,              -- n of paidup-<charge>-r<n>
    product TEXT NOT NULL,             -- catalog key
    position INTEGER NOT NULL,         -- order among the charge's products; 0 keeps paidup-<charge>-r<n>
    send_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    corrected INTEGER NOT NULL DEFAULT 0, -- 1: the run was asked with --to (later sends go there)
    payload TEXT NOT NULL,             -- the StoredPayload every send of this run repeats
    email_id TEXT,                     -- set once Resend accepted it; the run is complete when all are
    outcome_unknown INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (charge_id, run, product)
  );
`;

/**
 * A product of a run whose outcome stayed unknown past Resend's idempotency window: a repeat
 * under its key could be a second email, so it is never sent again and the run counts as done.
 */
export const RESEND_RUNS_CLOSED_UNKNOWN = "ALTER TABLE resend_runs ADD COLUMN closed_unknown_at BIGINT;";
