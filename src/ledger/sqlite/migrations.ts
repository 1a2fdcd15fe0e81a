import { STATE } from "../../states";
import { DELIVERIES_SCHEMA } from "../deliveries-schema";
import { EMAIL_EVENTS_SCHEMA } from "../email-events-schema";
import { BUYER_LOOKUP_INDEX, LINKS_SCHEMA, linkLimitsMigration } from "../links-schema";
import { ALERTS_SCHEMA } from "../alerts-schema";
import { BUYERS_SCHEMA } from "../buyers-schema";
import { LICENSES_SCHEMA } from "../licenses-schema";
import { ANNOUNCEMENTS_SCHEMA, DISPUTES_WON_SCHEMA } from "../announcements-schema";
import { RESEND_RUNS_CLOSED_UNKNOWN, RESEND_RUNS_SCHEMA } from "../resend-runs-schema";

// Ordered schema migrations: entry i takes the ledger from user_version i to i + 1, each in
// its own transaction. Never edit a shipped entry; append a new one, and raise SCHEMA_VERSION
// (./schema-version) with it: test/ledger-schema.test.ts holds the two together.

// The states as shipped in entries 1–3, pinned so those entries never change under a new state.
const V1_STATES = [STATE.awaitingPayment, STATE.sending, STATE.delivered, STATE.retrying, STATE.needsReview, STATE.skipped, STATE.resolved];
const states = V1_STATES.map((s) => `'${s}'`).join(", ");
const finalStates = [STATE.delivered, STATE.resolved, STATE.skipped].map((s) => `'${s}'`).join(", ");

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE charges (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN (${states})),
    reason TEXT,
    created INTEGER NOT NULL,          -- Stripe's created, unix seconds
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    email TEXT,
    name TEXT,
    product TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,       -- sends tried, ever
    failed_sends INTEGER NOT NULL DEFAULT 0,   -- since the last operator retry; drives backoff
    next_attempt_at INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    first_sent_at INTEGER,             -- start of Resend's 24 h idempotency window
    outcome_unknown INTEGER NOT NULL DEFAULT 0,
    payload TEXT,                      -- the exact send, kept so a re-send is byte-identical
    email_id TEXT,
    blocked_on_file TEXT,
    alerted INTEGER NOT NULL DEFAULT 0,
    state_since INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- The first promise, enforced by the database itself.
    CHECK (state <> '${STATE.delivered}' OR email_id IS NOT NULL)
  );
  CREATE INDEX charges_open ON charges (state) WHERE state NOT IN (${finalStates});

  CREATE TABLE attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_id TEXT NOT NULL REFERENCES charges (id),
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    email_id TEXT,
    error TEXT,
    note TEXT
  );
  CREATE INDEX attempts_by_charge ON attempts (charge_id, id);
  CREATE TRIGGER attempts_no_update BEFORE UPDATE ON attempts
    BEGIN SELECT RAISE(ABORT, 'attempts are append-only'); END;
  CREATE TRIGGER attempts_no_delete BEFORE DELETE ON attempts
    BEGIN SELECT RAISE(ABORT, 'attempts are append-only'); END;

  CREATE TABLE events (
    id TEXT PRIMARY KEY,               -- Stripe event id: duplicates are dropped by this key
    type TEXT NOT NULL,
    object_id TEXT,
    received_at INTEGER NOT NULL,
    handled_at INTEGER
  );
  CREATE INDEX events_unhandled ON events (received_at) WHERE handled_at IS NULL;
  `,
  LINKS_SCHEMA,
  DELIVERIES_SCHEMA,
  // 4: the charge state `bounced` (a delivery's email bounced; its delivery row stays delivered).
  // SQLite cannot change a CHECK in place: the charges table is rebuilt (the runner turns
  // foreign keys off around it and checks them before commit), then its index. Resend's email
  // events and the passes' status checks get their tables.
  `
  CREATE TABLE charges_v4 (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN (${[...V1_STATES, STATE.bounced].map((s) => `'${s}'`).join(", ")})),
    reason TEXT,
    created INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    email TEXT,
    name TEXT,
    product TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    failed_sends INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    first_sent_at INTEGER,
    outcome_unknown INTEGER NOT NULL DEFAULT 0,
    payload TEXT,
    email_id TEXT,
    blocked_on_file TEXT,
    alerted INTEGER NOT NULL DEFAULT 0,
    state_since INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK (state NOT IN ('${STATE.delivered}', '${STATE.bounced}') OR email_id IS NOT NULL)
  );
  INSERT INTO charges_v4 SELECT * FROM charges;
  DROP TABLE charges;
  ALTER TABLE charges_v4 RENAME TO charges;
  CREATE INDEX charges_open ON charges (state) WHERE state NOT IN (${finalStates});
  ${EMAIL_EVENTS_SCHEMA}
  `,
  // 5: the buyers' page finds an address's charges through an index, not a scan of every charge.
  BUYER_LOOKUP_INDEX,
  // 6: alerts recorded once by the pass that decides them, and one send per channel (email,
  // chat webhook), each retried on its own until its channel takes it.
  ALERTS_SCHEMA,
  // 7: license keys and their activations (the shared schema, as on PostgreSQL).
  LICENSES_SCHEMA,
  // 8: announcements to past buyers, their recipients and recorded batches; unsubscribed addresses.
  ANNOUNCEMENTS_SCHEMA,
  // 9: download links' byte budget, expiry from acceptance, a log of at most 1,000 requests per link.
  linkLimitsMigration("rowid"),
  // 10: the addresses a charge had before `resend --to` corrected them, so `lookup` finds either.
  BUYERS_SCHEMA,
  // 11: each `paidup resend` run's payloads, so an incomplete run is completed before the next starts.
  RESEND_RUNS_SCHEMA,
  // 12: disputes of delivered charges the shop won: their buyers hear announcements again.
  DISPUTES_WON_SCHEMA,
  // 13: a resend run's product whose outcome stayed unknown past Resend's 24 h window is closed, not repeated.
  RESEND_RUNS_CLOSED_UNKNOWN,
];

