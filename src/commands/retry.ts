import { systemClock } from "../clock";
import { loadEnv } from "../config";
import { EXIT, ExitCode, UsageError } from "../errors";
import { openLedger } from "../ledger";
import { STATE } from "../states";

/** Back in line for the next pass, after the operator fixed the cause. */
export async function retryCommand(chargeId: string, flags: { note?: string }): Promise<ExitCode> {
  const ledger = await openLedger(loadEnv());
  try {
    const row = await ledger.getCharge(chargeId);
    if (!row) throw new UsageError(`no charge ${chargeId} in the ledger`, "`paidup status` lists the stuck ones");
    const note = flags.note?.trim() || "retry requested with paidup retry";
    if (!(await ledger.requeue(chargeId, note, systemClock.now()))) {
      throw new UsageError(
        `${chargeId} is ${row.state}; only a charge in ${STATE.needsReview} or ${STATE.retrying} can be retried`,
        row.state === STATE.sending ? "a send is in flight; if its process died, the next pass takes it over when the lease expires" : undefined,
      );
    }
    process.stdout.write(`${chargeId} is back in line (${STATE.retrying}, due now): the next pass sends it\n`);
    return EXIT.ok;
  } finally {
    await ledger.close();
  }
}
