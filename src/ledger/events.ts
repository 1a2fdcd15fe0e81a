import type { DB } from "./sqlite/open";
import { stmt } from "./sqlite/statements";

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
export function recordEvent(db: DB, e: { id: string; type: string; objectId: string | null }, now: number): boolean {
  return stmt(db, "INSERT INTO events (id, type, object_id, received_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
    .run(e.id, e.type, e.objectId, now).changes === 1;
}

export function markEventHandled(db: DB, id: string, now: number): void {
  stmt(db, "UPDATE events SET handled_at = ? WHERE id = ? AND handled_at IS NULL").run(now, id);
}

/** Events recorded but not finished (the process stopped after answering 200). */
export function unhandledEvents(db: DB): EventRow[] {
  return stmt(db, "SELECT * FROM events WHERE handled_at IS NULL ORDER BY received_at").all() as EventRow[];
}
