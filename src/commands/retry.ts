import crypto from "node:crypto";
import fs from "node:fs";
import { systemClock } from "../clock";
import { loadEnv } from "../config";
import { isoMs, isoSeconds } from "../duration";
import { EXIT, ExitCode, UsageError } from "../errors";
import { ChargeRow, IDEMPOTENCY_WINDOW_MS, Ledger, openLedger } from "../ledger";
import type { StoredPayload } from "../delivery/payload";
import { STATE } from "../states";
import type { StripeSource } from "../stripe/stripe-source";
import { notAChargeId } from "./charge-id";
import { chargeFacts, chargeFromStripe, optionalStripe } from "./stripe-lookup";

/** Back in line for the next pass, after the operator fixed the cause. */
export async function retryCommand(chargeId: string, flags: { note?: string }): Promise<ExitCode> {
  const env = loadEnv();
  const ledger = await openLedger(env);
  try {
    const row = await ledger.getCharge(chargeId);
    const note = flags.note?.trim() || "retry requested with paidup retry";
    if (!row) {
      const notACharge = notAChargeId(chargeId);
      if (notACharge) throw notACharge;
      return await takeMissingInLine(ledger, chargeId, note, optionalStripe(env));
    }
    // Each product's send of the charge (a charge that bought several has one per product).
    const sends: SendRecord[] = [row, ...(await ledger.deliveries(chargeId))];
    const changed = unrestoredFile(chargeId, sends, systemClock.now());
    if (changed) throw changed;
    if (!(await ledger.requeue(chargeId, note, systemClock.now()))) {
      throw new UsageError(
        `${chargeId} is ${row.state}; only a charge in ${STATE.needsReview} or ${STATE.retrying} can be retried`,
        row.state === STATE.sending ? "a send is in flight; if its process died, the next pass takes it over when the lease expires" : undefined,
      );
    }
    const unknown = sends.find((s) => s.outcome_unknown === 1);
    if (unknown) process.stderr.write(unknownOutcomeWarning(row, unknown.first_sent_at, systemClock.now()));
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

/**
 * An earlier send may have reached the buyer. Within Resend's 24 h window the re-send repeats the
 * same idempotency key and bytes, so Resend does not send it twice; after it, the re-send is a new
 * email, and only the operator can know whether the buyer has the first: `resolve` if they do.
 */
/** What a retry needs to know of one send: the charge row, or one product's delivery row. */
type SendRecord = Pick<ChargeRow, "outcome_unknown" | "payload" | "first_sent_at">;

function unknownOutcomeWarning(row: ChargeRow, firstSentAt: number | null, now: number): string {
  const windowEnds = (firstSentAt ?? 0) + IDEMPOTENCY_WINDOW_MS;
  const lines = [`warning: an earlier send of ${row.id} may have reached the buyer (its outcome is unknown).`];
  if (now < windowEnds) {
    lines.push(`  Until ${isoMs(windowEnds)} Resend recognises the repeat and does not send a second email.`);
  } else {
    lines.push(`  Resend's 24 h idempotency window is over: the re-send may be a second email to ${row.email ?? "the buyer"}.`);
  }
  lines.push(`  If the buyer already has it: paidup resolve ${row.id} --note "buyer had it"`);
  return lines.join("\n") + "\n";
}

/**
 * A send that may have reached the buyer is repeated byte for byte within Resend's 24 h window,
 * so that Resend recognises it. If a product file still differs from the bytes of that first
 * send, a retry can only end where it started: say what fixes it instead (nothing is changed).
 */
function unrestoredFile(id: string, sends: readonly SendRecord[], now: number): UsageError | null {
  for (const send of sends) {
    const problem = unrestoredFileOf(id, send, now);
    if (problem) return problem;
  }
  return null;
}

function unrestoredFileOf(id: string, row: SendRecord, now: number): UsageError | null {
  if (row.outcome_unknown !== 1 || row.payload === null || row.first_sent_at === null) return null;
  const windowEnds = row.first_sent_at + IDEMPOTENCY_WINDOW_MS;
  if (now >= windowEnds) return null; // past the window, retry sends the current file afresh
  const stored = JSON.parse(row.payload) as StoredPayload;
  for (const a of stored.attachments ?? []) {
    let now256: string | null;
    try {
      now256 = crypto.createHash("sha256").update(fs.readFileSync(a.path)).digest("hex");
    } catch {
      now256 = null;
    }
    if (now256 === a.sha256) continue;
    return new UsageError(
      `${id}: product file ${a.path} ${now256 === null ? "is missing" : "still differs from the bytes of the first send"}, whose outcome is unknown; a retry now would fail the same way`,
      `put the original file back (${a.size} bytes, sha256 ${a.sha256.slice(0, 16)}…) before ${isoMs(windowEnds)}, then paidup retry ${id}; ` +
        `or, if the buyer has it: paidup resolve ${id} --note "…"; after ${isoMs(windowEnds)} a retry sends the current file (a second email if the first arrived)`,
    );
  }
  return null;
}
