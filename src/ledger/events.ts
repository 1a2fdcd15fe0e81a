import type { Sql } from "./sql";

export interface EventRow {
  id: string;
  type: string;
  object_id: string | null;
  received_at: number;
  handled_at: number | null;
}

/**
 * Records a webhook event once. Stripe delivers at least once and retries for days: the primary
 * key, not a check-then-write, is what makes a duplicate (even ten at once) a no-op.
 */
export async function recordEvent(db: Sql, e: { id: string; type: string; objectId: string | null }, now: number): Promise<boolean> {
  return (await db.exec("INSERT INTO events (id, type, object_id, received_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", [e.id, e.type, e.objectId, now])) === 1;
}

export async function markEventHandled(db: Sql, id: string, now: number): Promise<void> {
  await db.exec("UPDATE events SET handled_at = ? WHERE id = ? AND handled_at IS NULL", [now, id]);
}

/** Events recorded but not finished (the process stopped after answering 200). */
export function unhandledEvents(db: Sql): Promise<EventRow[]> {
  return db.query<EventRow>("SELECT * FROM events WHERE handled_at IS NULL ORDER BY received_at");
}
