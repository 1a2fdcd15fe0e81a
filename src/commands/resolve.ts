import { systemClock } from "../clock";
import { loadEnv } from "../config";
import { isoMs } from "../duration";
import { EXIT, ExitCode, UsageError } from "../errors";
import { openLedger } from "../ledger";
import { STATE } from "../states";
import { notAChargeId } from "./charge-id";
import { chargeFacts, chargeFromStripe, optionalStripe } from "./stripe-lookup";

/** Records a delivery done by hand: no pass sends this charge again, and it is no longer stuck. */
export async function resolveCommand(chargeId: string, flags: { note?: string }): Promise<ExitCode> {
  const note = flags.note?.trim();
  if (!note) throw new UsageError("resolve needs --note \"<what was done>\"", 'e.g. paidup resolve ch_123 --note "sent the zip by hand on 2026-11-22"');
  const env = loadEnv();
  const ledger = await openLedger(env);
  try {
    const row = await ledger.getCharge(chargeId);
    if (!row) {
      const notACharge = notAChargeId(chargeId);
      if (notACharge) throw notACharge;
    }
    const now = systemClock.now();
    // A charge no pass has recorded yet (`missing`) is looked up in Stripe and recorded resolved.
    const facts = row ? undefined : chargeFacts(await chargeFromStripe(optionalStripe(env), chargeId));
    if (!(await ledger.resolveByHand(chargeId, note, now, facts))) {
      const current = (await ledger.getCharge(chargeId)) ?? row;
      const live = (await ledger.deliveries(chargeId)).find((d) => d.state === STATE.sending && (d.lease_until ?? 0) >= now);
      if (live) {
        throw new UsageError(
          `${chargeId} is being sent right now (${live.product}: its claim is live until ${isoMs(live.lease_until ?? now)}); nothing resolved`,
          "wait for that send to finish (`paidup show` tells its outcome); if its process died, the claim expires within 5 minutes",
        );
      }
      if (current?.state === STATE.sending && (current.lease_until ?? 0) >= now) {
        throw new UsageError(
          `${chargeId} is being sent right now (its claim is live until ${isoMs(current.lease_until ?? now)}); nothing resolved`,
          "wait for that send to finish (`paidup show` tells its outcome); if its process died, the claim expires within 5 minutes",
        );
      }
      throw new UsageError(`${chargeId} is already ${current?.state ?? "recorded"}${current?.email_id ? ` (email id ${current.email_id})` : ""}; nothing to resolve`);
    }
    process.stdout.write(`${chargeId} resolved by hand: ${note}\n`);
    return EXIT.ok;
  } finally {
    await ledger.close();
  }
}
