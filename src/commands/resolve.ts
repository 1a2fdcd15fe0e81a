import { systemClock } from "../clock";
import { loadEnv } from "../config";
import { EXIT, ExitCode, UsageError } from "../errors";
import { getCharge, openLedgerFile, resolveByHand } from "../ledger";

/** Records a delivery done by hand: no pass sends this charge again, and it is no longer stuck. */
export function resolveCommand(chargeId: string, flags: { note?: string }): ExitCode {
  const note = flags.note?.trim();
  if (!note) throw new UsageError("resolve needs --note \"<what was done>\"", 'e.g. paidup resolve ch_123 --note "sent the zip by hand on 2026-11-22"');
  const db = openLedgerFile(loadEnv().dbPath);
  try {
    const row = getCharge(db, chargeId);
    if (!row) throw new UsageError(`no charge ${chargeId} in the ledger`, "`paidup status` lists the stuck ones");
    if (!resolveByHand(db, chargeId, note, systemClock.now())) {
      throw new UsageError(`${chargeId} is already ${row.state}${row.email_id ? ` (email id ${row.email_id})` : ""}; nothing to resolve`);
    }
    process.stdout.write(`${chargeId} resolved by hand: ${note}\n`);
    return EXIT.ok;
  } finally {
    db.close();
  }
}
