/**
 * The SQLite ledger's schema version: the number of entries in ./migrations' MIGRATIONS
 * (test/ledger-schema.test.ts fails when they differ). A number of its own so that opening a
 * ledger that is up to date, which every command does and a cron monitor's `status --offline`
 * does each minute, does not load the text of every migration and the schema modules it uses.
 */
export const SCHEMA_VERSION = 13;
