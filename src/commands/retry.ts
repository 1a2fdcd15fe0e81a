import { systemClock } from "../clock";
import { loadEnv } from "../config";
import { isoSeconds } from "../duration";
import { EXIT, ExitCode, UsageError } from "../errors";
import { Ledger, openLedger } from "../ledger";
import { STATE } from "../states";
import type { StripeSource } from "../stripe/stripe-source";
import { chargeFacts, chargeFromStripe, optionalStripe } from "./stripe-lookup";

/** Back in line for the next pass, after the operator fixed the cause. */
export async function retryCommand(chargeId: string, flags: { note?: string }): Promise<ExitCode> {
  const env = loadEnv();
  const ledger = await openLedger(env);
  try {
    const row = await ledger.getCharge(chargeId);
    const note = flags.note?.trim() || "retry requested with paidup retry";
    if (!row) return await takeMissingInLine(ledger, chargeId, note, optionalStripe(env));
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

/** A paid charge no pass has recorded (`missing`): fetched from Stripe and put in line. */
async function takeMissingInLine(ledger: Ledger, chargeId: string, note: string, stripe: StripeSource | null): Promise<ExitCode> {
  const charge = await chargeFromStripe(stripe, chargeId);
  const startLine = Number(await ledger.getMeta("start_line"));
  if (charge.created < startLine) {
    throw new UsageError(
      `${chargeId} was created ${isoSeconds(charge.created)}, before the start line ${isoSeconds(startLine)}; it is never delivered`,
      "`paidup init --since <when>` moves the start line earlier to take older charges in",
    );
  }
  if (!(await ledger.takeInLine(chargeFacts(charge), note, systemClock.now()))) {
    throw new UsageError(`a pass recorded ${chargeId} meanwhile; nothing changed`, `paidup show ${chargeId}`);
  }
  process.stdout.write(`${chargeId} is now in line (${STATE.retrying}, due now): the next pass fetches it from Stripe and sends it\n`);
  return EXIT.ok;
}
