import { isoMs } from "../duration";
import type { Ledger } from "../ledger";
import type { PassCounts } from "./reconcile";

/** The health of the last pass, as `status` and `/healthz` report it. */
export interface PassRecord {
  startedAt: number;
  finishedAt: number;
  ok: boolean;
  error?: string;
  counts?: PassCounts;
}

export function recordPass(ledger: Ledger, record: PassRecord): Promise<void> {
  return ledger.transaction(async (tx) => {
    await tx.setMeta("last_pass", JSON.stringify(record));
    await tx.setMeta("heartbeat_at", String(record.finishedAt));
    if (record.ok) await tx.setMeta("last_success_at", String(record.finishedAt));
  });
}

export async function lastPass(ledger: Ledger): Promise<PassRecord | null> {
  const raw = await ledger.getMeta("last_pass");
  return raw ? (JSON.parse(raw) as PassRecord) : null;
}

export async function lastSuccessAt(ledger: Ledger): Promise<number | null> {
  const raw = await ledger.getMeta("last_success_at");
  return raw ? Number(raw) : null;
}

export interface PassHealth {
  ok: boolean;
  lastPass: { finishedAt: string; ok: boolean; stale: boolean } | null;
}

/** Stale: no successful pass for longer than staleAfter. Before any pass, not healthy either. */
export async function passHealth(ledger: Ledger, staleAfterMs: number, now: number): Promise<PassHealth> {
  const last = await lastPass(ledger);
  if (!last) return { ok: false, lastPass: null };
  const success = await lastSuccessAt(ledger);
  const stale = success === null || now - success > staleAfterMs;
  return { ok: last.ok && !stale, lastPass: { finishedAt: isoMs(last.finishedAt), ok: last.ok, stale } };
}
