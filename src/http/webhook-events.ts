import { deliverCharge, ChargeOutcome } from "../pass/deliver";
import type { EventRow } from "../ledger";
import type { PassDeps } from "../pass/pass-deps";
import { alertDisputesAfterDelivery, noticeDisputeClosed } from "../pass/after-delivery";
import { deliverAlerts } from "../pass/alerts";

// Webhook events only say "look at this charge now". Their payload and order are never trusted:
// the charge is fetched from the API and goes through the pass's own judge → claim → send → commit.

export const HANDLED_TYPES = new Set([
  "charge.succeeded",
  "charge.refunded",
  "charge.dispute.created",
  // A dispute won before delivery makes the charge deliverable again.
  "charge.dispute.closed",
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
]);

/**
 * The id of the object the event is about, kept with the event so it can be handled after a
 * crash. The payload is untrusted: a field of the wrong type gives null, never a TypeError.
 */
export function eventObjectId(type: string, obj: Record<string, unknown>): string | null {
  const idOf = (v: unknown): string | null => {
    if (typeof v === "string" && v.length > 0) return v.slice(0, 255);
    if (v && typeof v === "object" && typeof (v as { id?: unknown }).id === "string") return idOf((v as { id: string }).id);
    return null;
  };
  if (type.startsWith("charge.dispute.")) return idOf(obj.charge);
  if (type.startsWith("checkout.session.")) return idOf(obj.payment_intent);
  return typeof obj.id === "string" ? idOf(obj.id) : null;
}

/** Which charge an event points at: a charge id, or the latest charge of a session's payment intent. */
async function chargeIdOf(deps: PassDeps, event: Pick<EventRow, "type" | "object_id">): Promise<string | null> {
  if (!event.object_id) return null;
  if (event.type.startsWith("checkout.session.")) return deps.stripe.latestChargeOfPaymentIntent(event.object_id);
  return event.object_id;
}

export async function handleEvent(deps: PassDeps, event: EventRow): Promise<ChargeOutcome | null> {
  let outcome: ChargeOutcome | null = null;
  if (HANDLED_TYPES.has(event.type)) {
    const chargeId = await chargeIdOf(deps, event);
    const charge = chargeId ? await deps.stripe.retrieveCharge(chargeId) : null;
    if (charge) outcome = await deliverCharge(deps, charge, Number(await deps.ledger.getMeta("start_line")));
  }
  // A dispute of a charge delivered in whole or in part: the owner hears of it now, not at the
  // next pass (only disputes recorded after delivery and not yet alerted make an alert).
  if (event.type === "charge.dispute.created" && outcome !== null) {
    await alertDisputesAfterDelivery(deps);
    await deliverAlerts(deps);
  }
  // A dispute of a delivered charge closed: won, its license keys work again within the minute.
  if (event.type === "charge.dispute.closed" && outcome?.kind === "already_delivered" && event.object_id) await noticeDisputeClosed(deps, event.object_id);
  // A stop request before the claim leaves the event for the next start.
  if (outcome?.kind === "stopped") return outcome;
  // Marked only after the work: a crash before this line leaves the event for the next start.
  await deps.ledger.markEventHandled(event.id, deps.clock.now());
  return outcome;
}
