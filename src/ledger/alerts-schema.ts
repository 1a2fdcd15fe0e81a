// The tables of ./alerts.ts, in SQL both SQLite and PostgreSQL accept.
export const ALERTS_SCHEMA = `
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,               -- '<kind>-<digest of what it names>': two passes building the same alert record it once
    kind TEXT NOT NULL CHECK (kind IN ('stuck', 'bounced', 'disputed', 'stale', 'test')),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    charges TEXT NOT NULL,             -- JSON array of the charge ids it names
    created_at BIGINT NOT NULL
  );

  CREATE TABLE alert_sends (
    alert_id TEXT NOT NULL REFERENCES alerts (id),
    channel TEXT NOT NULL,             -- 'email' or 'webhook'
    sent_at BIGINT,                    -- when the channel took it; null until then
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    lease_owner TEXT,
    lease_until BIGINT,                -- a process is delivering it until then
    PRIMARY KEY (alert_id, channel)
  );
  CREATE INDEX alert_sends_pending ON alert_sends (channel, alert_id) WHERE sent_at IS NULL;
`;
