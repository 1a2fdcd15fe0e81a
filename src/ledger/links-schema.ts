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

/**
 * Migration 9, columns for a link's byte budget, its expiry from Resend's acceptance and a
 * download log bounded per link. Each backend adds the same columns (this text), then numbers
 * the log rows it already has with its own row identity (`rowid`, `ctid`): see `linkLimitsMigration`.
 */
const LINK_LIMITS_COLUMNS = `
  -- Bytes taken by answers so far, ranges included, reserved before streaming (any unsent
  -- rest given back): a link serves at most (max_downloads + 1) × the file's size.
  ALTER TABLE download_links ADD COLUMN bytes_served BIGINT NOT NULL DEFAULT 0;
  -- Expiry runs from when Resend first accepted the email carrying the link (accepted_at);
  -- until then expires_at is the render time + expires_after_ms.
  ALTER TABLE download_links ADD COLUMN expires_after_ms BIGINT;
  ALTER TABLE download_links ADD COLUMN accepted_at BIGINT;
  -- Requests logged through the link so far; each log row carries its number (seq), so the
  -- write that logs request n deletes request n - 1000 and the log keeps the last 1,000.
  ALTER TABLE download_links ADD COLUMN requests_logged BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE download_requests ADD COLUMN seq BIGINT;
  UPDATE download_links SET expires_after_ms = expires_at - created_at;
`;

const LINK_COLUMNS = "charge_id, product, file_index, issue";
const SAME_LINK = (a: string, b: string) => LINK_COLUMNS.split(", ").map((c) => `${a}.${c} = ${b}.${c}`).join(" AND ");

/** Migration 9 for one backend; `rowId` is its row identity (SQLite `rowid`, PostgreSQL `ctid`). */
export function linkLimitsMigration(rowId: "rowid" | "ctid"): string {
  return `${LINK_LIMITS_COLUMNS}
  UPDATE download_requests SET seq = n.rn
    FROM (SELECT ${rowId} AS rid, row_number() OVER (PARTITION BY ${LINK_COLUMNS} ORDER BY at, ${rowId}) AS rn FROM download_requests) AS n
    WHERE download_requests.${rowId} = n.rid;
  UPDATE download_links SET requests_logged = coalesce((SELECT max(r.seq) FROM download_requests r WHERE ${SAME_LINK("r", "download_links")}), 0);
  DELETE FROM download_requests WHERE seq <= (SELECT l.requests_logged - 1000 FROM download_links l WHERE ${SAME_LINK("l", "download_requests")});
  CREATE INDEX download_requests_by_link ON download_requests (${LINK_COLUMNS}, seq);
`;
}
