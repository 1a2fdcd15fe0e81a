import { STATE } from "../../states";
import { DELIVERIES_SCHEMA } from "../deliveries-schema";
import { EMAIL_EVENTS_SCHEMA } from "../email-events-schema";
import { BUYER_LOOKUP_INDEX, LINKS_SCHEMA, linkLimitsMigration } from "../links-schema";
import { ALERTS_SCHEMA } from "../alerts-schema";
import { BUYERS_SCHEMA } from "../buyers-schema";
import { LICENSES_SCHEMA } from "../licenses-schema";
import { ANNOUNCEMENTS_SCHEMA, DISPUTES_WON_SCHEMA } from "../announcements-schema";
import { RESEND_RUNS_CLOSED_UNKNOWN, RESEND_RUNS_SCHEMA } from "../resend-runs-schema";

// Ordered schema migrations for PostgreSQL: entry i takes the ledger from version i to i + 1,
// each in its own transaction under an advisory lock, recorded in paidup_schema. The same
// tables, columns and guarantees as sqlite/migrations.ts; only the DDL differs (BIGINT for
// millisecond times, triggers as functions). Never edit a shipped entry; append a new one.

// The states as shipped in entries 1–3, pinned so those entries never change under a new state.
const V1_STATES = [STATE.awaitingPayment, STATE.sending, STATE.delivered, STATE.retrying, STATE.needsReview, STATE.skipped, STATE.resolved];
const states = V1_STATES.map((s) => `'${s}'`).join(", ");
const finalStates = [STATE.delivered, STATE.resolved, STATE.skipped].map((s) => `'${s}'`).join(", ");

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE charges (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CONSTRAINT charges_state_known CHECK (state IN (${states})),
    reason TEXT,
    created BIGINT NOT NULL,           -- Stripe's created, unix seconds
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    email TEXT,
    name TEXT,
    product TEXT,
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
    alerted INTEGER NOT NULL DEFAULT 0,
    state_since BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- The first promise, enforced by the database itself.
    CONSTRAINT charges_delivered_has_email CHECK (state <> '${STATE.delivered}' OR email_id IS NOT NULL)
  );
  CREATE INDEX charges_open ON charges (state) WHERE state NOT IN (${finalStates});

  CREATE TABLE attempts (
    id BIGSERIAL PRIMARY KEY,
    charge_id TEXT NOT NULL REFERENCES charges (id),
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    email_id TEXT,
    error TEXT,
    note TEXT
  );
  CREATE INDEX attempts_by_charge ON attempts (charge_id, id);
  CREATE FUNCTION paidup_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'attempts are append-only'; END $$;
  CREATE TRIGGER attempts_no_update BEFORE UPDATE ON attempts FOR EACH ROW EXECUTE FUNCTION paidup_append_only();
  CREATE TRIGGER attempts_no_delete BEFORE DELETE ON attempts FOR EACH ROW EXECUTE FUNCTION paidup_append_only();
  CREATE TRIGGER attempts_no_truncate BEFORE TRUNCATE ON attempts FOR EACH STATEMENT EXECUTE FUNCTION paidup_append_only();

  CREATE TABLE events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    object_id TEXT,
    received_at BIGINT NOT NULL,
    handled_at BIGINT
  );
  CREATE INDEX events_unhandled ON events (received_at) WHERE handled_at IS NULL;
  `,
  LINKS_SCHEMA,
  // 3: one delivery per (charge, product): the shared portable schema, as on SQLite.
  DELIVERIES_SCHEMA,
  // 4: the charge state \`bounced\`, as sqlite/migrations.ts entry 4. PostgreSQL changes the
  // CHECKs in place (SQLite has to rebuild the table); then Resend's email events and checks.
  `
  ALTER TABLE charges
    DROP CONSTRAINT charges_state_known,
    ADD CONSTRAINT charges_state_known CHECK (state IN (${[...V1_STATES, STATE.bounced].map((s) => `'${s}'`).join(", ")})),
    DROP CONSTRAINT charges_delivered_has_email,
    ADD CONSTRAINT charges_delivered_has_email CHECK (state NOT IN ('${STATE.delivered}', '${STATE.bounced}') OR email_id IS NOT NULL);
  ${EMAIL_EVENTS_SCHEMA}
  `,
  // 5: the buyers' page lookup on lower(email) by index, as sqlite/migrations.ts entry 5.
  BUYER_LOOKUP_INDEX,
  // 6: alerts recorded once by the pass that decides them, and one send per channel (email,
  // chat webhook), each retried on its own until its channel takes it.
  ALERTS_SCHEMA,
  // 7: license keys and their activations, as sqlite/migrations.ts entry 7.
  LICENSES_SCHEMA,
  // 8: announcements to past buyers, their recipients and recorded batches; unsubscribed addresses.
  ANNOUNCEMENTS_SCHEMA,
  // 9: as sqlite/migrations.ts entry 9 (ctid where SQLite has rowid).
  linkLimitsMigration("ctid"),
  // 10: the addresses a charge had before `resend --to` corrected them, so `lookup` finds either.
  BUYERS_SCHEMA,
  // 11: each `paidup resend` run's payloads, so an incomplete run is completed before the next starts.
  RESEND_RUNS_SCHEMA,
  // 12: disputes of delivered charges the shop won: their buyers hear announcements again.
  DISPUTES_WON_SCHEMA,
  // 13: a resend run's product whose outcome stayed unknown past Resend's 24 h window is closed, not repeated.
  RESEND_RUNS_CLOSED_UNKNOWN,
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;
