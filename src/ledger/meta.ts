import type { DB } from "./sqlite/open";
import { stmt } from "./sqlite/statements";

export type MetaKey =
  | "start_line" // unix seconds; charges created earlier are never delivered
  | "watermark" // unix seconds; every charge created before it has a row
  | "mode" // "test" | "live": the kind of Stripe key the ledger was made with
  | "last_pass" // JSON PassRecord
  | "last_success_at" // ms
  | "heartbeat_at" // ms
  | "failure_alerted"; // "1" while a failing streak has been alerted

export function getMeta(db: DB, key: MetaKey): string | undefined {
  const row = stmt(db, "SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined;
  return row?.value;
}

export function setMeta(db: DB, key: MetaKey, value: string): void {
  stmt(db, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
}

export function deleteMeta(db: DB, key: MetaKey): void {
  stmt(db, "DELETE FROM meta WHERE key = ?").run(key);
}
