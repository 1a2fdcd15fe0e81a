import type { Statement } from "better-sqlite3";
import type { Database as DB } from "better-sqlite3";

// Statements are prepared once per connection: a pass over 100,000 delivered charges
// must not re-parse SQL for each one.
const cache = new WeakMap<DB, Map<string, Statement>>();

export function stmt(db: DB, sql: string): Statement {
  let perDb = cache.get(db);
  if (!perDb) cache.set(db, (perDb = new Map()));
  let s = perDb.get(sql);
  if (!s) perDb.set(sql, (s = db.prepare(sql)));
  return s;
}
