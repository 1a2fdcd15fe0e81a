// The tables of ./links.ts, in SQL both SQLite and PostgreSQL accept (BIGINT is INTEGER to SQLite).
export const LINKS_SCHEMA = `
  CREATE TABLE download_links (
    charge_id TEXT NOT NULL,
    product TEXT NOT NULL,
    file_index INTEGER NOT NULL,
    issue INTEGER NOT NULL,            -- counts the renderings of this purchase's links
    source TEXT NOT NULL,              -- 'send', 'r<n>' (paidup resend), 'page:<ms>' (buyers' page)
    file_name TEXT NOT NULL,
    file_path TEXT NOT NULL,
    created_at BIGINT NOT NULL,        -- first render: expiry runs from here
    expires_at BIGINT NOT NULL,
    max_downloads INTEGER NOT NULL,
    downloads INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (charge_id, product, file_index, issue)
  );
  CREATE INDEX download_links_by_source ON download_links (charge_id, product, source);

  CREATE TABLE download_requests (
    charge_id TEXT NOT NULL,
    product TEXT NOT NULL,
    file_index INTEGER NOT NULL,
    issue INTEGER NOT NULL,
    at BIGINT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT,
    method TEXT NOT NULL,
    range_header TEXT,
    status INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    counted INTEGER NOT NULL           -- 1: a GET from the first byte, which uses up a download
  );
  CREATE INDEX download_requests_by_charge ON download_requests (charge_id, at);

  CREATE TABLE after_delivery (
    charge_id TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('refunded', 'disputed')),
    at BIGINT NOT NULL,                -- when Stripe recorded it where known, else when paidup noticed
    noticed_at BIGINT NOT NULL,
    downloads INTEGER NOT NULL,        -- downloads counted before it
    alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (charge_id, event)
  );

  CREATE TABLE buyer_requests (
    email TEXT PRIMARY KEY,            -- lower-cased
    last_at BIGINT NOT NULL
  );
`;

// Migration 5: POST /downloads looks up `lower(email) = ?` for anyone who asks; both backends
// use an expression index when the query spells the same expression.
export const BUYER_LOOKUP_INDEX = `
  CREATE INDEX charges_by_email ON charges (lower(email));
`;
