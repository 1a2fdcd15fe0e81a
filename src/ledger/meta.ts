import type { Sql } from "./sql";

export type MetaKey =
  | "start_line" // unix seconds; charges created earlier are never delivered
  | "watermark" // unix seconds on Stripe's clock; every charge created before it has a row
  | "relisted_at" // unix seconds on Stripe's clock: the last complete deep re-list of 72 h
  | "mode" // "test" | "live": the kind of Stripe key the ledger was made with
  | "last_pass" // JSON PassRecord
  | "last_success_at" // ms
  | "heartbeat_at" // ms
  | "failure_alerted" // "1" while a failing streak has been alerted
  | "events_seen_until" // unix seconds (Stripe's clock): refund and dispute events read up to here
  | "link_key" // base64url HMAC key of download tokens (made at init; a secret: never printed)
  | "license_signing_key" // JSON private Ed25519 JWK that signs license certificates (a secret: never printed)
  | "ignore_rules"; // JSON of the config's ignore rules the open rows were last judged by

export async function getMeta(db: Sql, key: MetaKey): Promise<string | undefined> {
  const row = await db.one<{ value: string }>("SELECT value FROM meta WHERE key = ?", [key]);
  return row?.value;
}

export async function setMeta(db: Sql, key: MetaKey, value: string): Promise<void> {
  await db.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
}

/**
 * Sets a value only if the key has none; true if this call set it. Two processes racing (two
 * hosts running `init` at once) get one winner: the loser's insert waits for the winner's commit.
 */
export async function insertMeta(db: Sql, key: MetaKey, value: string): Promise<boolean> {
  return (await db.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", [key, value])) === 1;
}

export async function deleteMeta(db: Sql, key: MetaKey): Promise<void> {
  await db.exec("DELETE FROM meta WHERE key = ?", [key]);
}
