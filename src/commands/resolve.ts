import { systemClock } from "../clock";
import { loadEnv } from "../config";
import { EXIT, ExitCode, UsageError } from "../errors";
import { openLedger } from "../ledger";

/** Records a delivery done by hand: no pass sends this charge again, and it is no longer stuck. */
export async function resolveCommand(chargeId: string, flags: { note?: string }): Promise<ExitCode> {
  const note = flags.note?.trim();
  if (!note) throw new UsageError("resolve needs --note \"<what was done>\"", 'e.g. paidup resolve ch_123 --note "sent the zip by hand on 2026-11-22"');
  const ledger = await openLedger(loadEnv());
  try {
    const row = await ledger.getCharge(chargeId);
    if (!row) throw new UsageError(`no charge ${chargeId} in the ledger`, "`paidup status` lists the stuck ones");
    if (!(await ledger.resolveByHand(chargeId, note, systemClock.now()))) {
      throw new UsageError(`${chargeId} is already ${row.state}${row.email_id ? ` (email id ${row.email_id})` : ""}; nothing to resolve`);
    }
    process.stdout.write(`${chargeId} resolved by hand: ${note}\n`);
    return EXIT.ok;
  } finally {
    await ledger.close();
  }
}
