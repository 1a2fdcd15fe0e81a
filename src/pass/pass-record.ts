import { isoMs } from "../duration";
import { DB, getMeta, setMeta } from "../ledger";
import type { PassCounts } from "./reconcile";

/** The health of the last pass, as `status` and `/healthz` report it. */
export interface PassRecord {
  startedAt: number;
  finishedAt: number;
  ok: boolean;
  error?: string;
  counts?: PassCounts;
}

export function recordPass(db: DB, record: PassRecord): void {
  db.transaction(() => {
    setMeta(db, "last_pass", JSON.stringify(record));
    setMeta(db, "heartbeat_at", String(record.finishedAt));
    if (record.ok) setMeta(db, "last_success_at", String(record.finishedAt));
  })();
}

export function lastPass(db: DB): PassRecord | null {
  const raw = getMeta(db, "last_pass");
  return raw ? (JSON.parse(raw) as PassRecord) : null;
}

export function lastSuccessAt(db: DB): number | null {
  const raw = getMeta(db, "last_success_at");
  return raw ? Number(raw) : null;
}

export interface PassHealth {
  ok: boolean;
  lastPass: { finishedAt: string; ok: boolean; stale: boolean } | null;
}

/** Stale: no successful pass for longer than staleAfter. Before any pass, not healthy either. */
export function passHealth(db: DB, staleAfterMs: number, now: number): PassHealth {
  const last = lastPass(db);
  if (!last) return { ok: false, lastPass: null };
  const success = lastSuccessAt(db);
  const stale = success === null || now - success > staleAfterMs;
  return { ok: last.ok && !stale, lastPass: { finishedAt: isoMs(last.finishedAt), ok: last.ok, stale } };
}
