import { STATE } from "../states";

// The deliveries of ./deliveries.ts (schema step 3 on SQLite), in SQL both SQLite and PostgreSQL
// accept (BIGINT is INTEGER to SQLite): one delivery per (charge, product). A v1 charge's single
// delivery becomes the record of its one product, with the key it was sent under
// (paidup-<charge>), its payload, lease and email id.

// The states as shipped with this table, pinned so the schema never changes under a new state.
const states = [STATE.awaitingPayment, STATE.sending, STATE.delivered, STATE.retrying, STATE.needsReview, STATE.skipped, STATE.resolved]
  .map((s) => `'${s}'`).join(", ");

export const DELIVERIES_SCHEMA = `
  CREATE TABLE deliveries (
    charge_id TEXT NOT NULL REFERENCES charges (id),
    product TEXT NOT NULL,             -- catalog key
    position INTEGER NOT NULL,         -- file order among the charge's products; 0 keeps paidup-<charge>
    send_key TEXT NOT NULL,            -- the idempotency key of every send of this delivery
    state TEXT NOT NULL CHECK (state IN (${states})),
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failed_sends INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    first_sent_at BIGINT,
    outcome_unknown INTEGER NOT NULL DEFAULT 0,
    payload TEXT,
    email_id TEXT,
    blocked_on_file TEXT,
    state_since BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (charge_id, product),
    CHECK (state <> '${STATE.delivered}' OR email_id IS NOT NULL)
  );
  CREATE UNIQUE INDEX deliveries_by_key ON deliveries (send_key);

  ALTER TABLE attempts ADD COLUMN product TEXT;

  INSERT INTO deliveries (charge_id, product, position, send_key, state, reason, attempts, failed_sends,
      next_attempt_at, lease_owner, lease_until, first_sent_at, outcome_unknown, payload, email_id,
      blocked_on_file, state_since, updated_at)
    SELECT id, product, 0, 'paidup-' || id, state, reason, attempts, failed_sends,
      next_attempt_at, lease_owner, lease_until, first_sent_at, outcome_unknown, payload, email_id,
      blocked_on_file, state_since, updated_at
    FROM charges
    WHERE product IS NOT NULL
      AND state IN ('${STATE.sending}', '${STATE.delivered}', '${STATE.retrying}', '${STATE.needsReview}', '${STATE.resolved}');
  `;
