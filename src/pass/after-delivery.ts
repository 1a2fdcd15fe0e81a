import type Stripe from "stripe";
import { formatAmount } from "../delivery/templates";
import { redact } from "../redact";
import type { AfterDeliveryEvent } from "../ledger";
import { STATE } from "../states";
import type { PassDeps } from "./pass-deps";
import { channelsOf, recordAlert } from "./alerts";

// Refunds and disputes of charges already delivered. Their download links stop working (410)
// and their license keys are disabled (a dispute won enables the keys again),
// `status` lists them under afterDelivery, and a dispute alerts the owner once with the command
// that gathers the proof. Two ways in: `serve`'s webhooks (within a minute), and each pass
// reading Stripe's events since its last look (within an hour without webhooks).

/** Only a charge the buyer already has something of is "after delivery"; before it, the pass skips it. */
const DONE = new Set<string>([STATE.delivered, STATE.resolved, "bounced"]);

/**
 * Whether the buyer already has any product of the charge: the charge is done, or one of its
 * products is delivered while another is still failing (the charge then shows the failing one).
 */
async function deliveredAnything(deps: PassDeps, chargeId: string): Promise<boolean> {
  const row = await deps.ledger.getCharge(chargeId);
  if (!row) return false;
  if (DONE.has(row.state)) return true;
  return (await deps.ledger.deliveries(chargeId)).some((d) => d.state === STATE.delivered || d.state === STATE.resolved);
}

/**
 * "Charge revoked after delivery": a refund in full or a dispute of a charge the buyer already
 * has something of, whatever state its other products are in. The one record of it is the
 * ledger's after-delivery row (recordAfterDelivery): from it every link of the charge answers
 * 410, its license keys are disabled, `status` lists it, and a dispute alerts the owner. Every
 * way in (webhook, pass, Stripe's events) comes through here. True if it was new.
 */
export async function revokeAfterDelivery(deps: PassDeps, chargeId: string, kind: AfterDeliveryEvent, at: number): Promise<boolean> {
  if (!(await deliveredAnything(deps, chargeId))) return false;
  if (!(await deps.ledger.recordAfterDelivery(chargeId, kind, at, deps.clock.now()))) return false;
  deps.log.warn(`${kind} after delivery: its download links are revoked and its license keys disabled`, { charge: chargeId });
  return true;
}

/** Looks at a charge as Stripe has it now: refunded in full or disputed → revoked. */
export async function noticeAfterDelivery(deps: PassDeps, charge: Stripe.Charge): Promise<void> {
  const now = deps.clock.now();
  if (charge.refunded) await revokeAfterDelivery(deps, charge.id, "refunded", now);
  if (charge.disputed) await revokeAfterDelivery(deps, charge.id, "disputed", now);
}

/**
 * A dispute of a delivered charge has closed: if the shop won it, the license keys it disabled
 * are active again (unless the owner has set them since, or the charge was also refunded), and
 * the win is recorded so its buyer hears announcements again. Stripe is asked only for a charge
 * with a key waiting on a dispute or a dispute recorded after delivery, and its answer, not the
 * event's payload, decides.
 */
export async function noticeDisputeClosed(deps: PassDeps, chargeId: string): Promise<void> {
  const { ledger } = deps;
  const keysWait = await ledger.hasKeyDisabledByDispute(chargeId);
  // A dispute recorded after delivery keeps its buyer out of announcements until it is won.
  const disputedAfter = (await ledger.afterDeliveryOf(chargeId)).some((a) => a.event === "disputed");
  if (!keysWait && !disputedAfter) return;
  if ((await deps.stripe.disputeOutcome(chargeId)) !== "won") return;
  if (disputedAfter) await ledger.recordDisputeWon(chargeId, deps.clock.now());
  if (keysWait && (await ledger.enableAfterDisputeWon(chargeId, deps.clock.now()))) {
    deps.log.info("dispute won after delivery: its license keys are active again", { charge: chargeId });
  }
}

/** Stripe keeps events 30 days; a first look never reaches further back than that. */
const EVENTS_KEPT_S = 30 * 86_400;
/** Events of the same second may be listed a moment apart: each look re-reads a little. */
const EVENTS_OVERLAP_S = 300;

/** Reads refund and dispute events since the last look and records those of delivered charges. */
export async function pollAfterDelivery(deps: PassDeps): Promise<number> {
  const { ledger, clock } = deps;
  const nowS = Math.floor(clock.now() / 1000);
  const startLine = Number((await ledger.getMeta("start_line")) ?? nowS);
  const seen = Number((await ledger.getMeta("events_seen_until")) ?? startLine);
  const from = Math.max(seen - EVENTS_OVERLAP_S, startLine, nowS - EVENTS_KEPT_S);
  const events = await deps.stripe.refundAndDisputeEvents(from);
  let recorded = 0;
  let newest = seen;
  for (const event of events) {
    newest = Math.max(newest, event.created);
    const obj = event.data.object as { id?: string; refunded?: boolean; charge?: string | { id: string }; created?: number };
    const chargeId = event.type === "charge.refunded" ? obj.id : typeof obj.charge === "string" ? obj.charge : obj.charge?.id;
    if (!chargeId) continue;
    if (event.type === "charge.dispute.closed") {
      await noticeDisputeClosed(deps, chargeId);
      continue;
    }
    // A partial refund leaves the purchase standing; a full one ends it.
    if (event.type === "charge.refunded" && obj.refunded !== true) continue;
    const kind = event.type === "charge.refunded" ? "refunded" : "disputed";
    const at = (event.type === "charge.refunded" ? event.created : (obj.created ?? event.created)) * 1000;
    if (await revokeAfterDelivery(deps, chargeId, kind, at)) recorded++;
  }
  // Stripe's clock, not the host's: the next look starts from the newest event Stripe showed us.
  if (newest > seen) await ledger.setMeta("events_seen_until", String(newest));
  return recorded;
}

/** One alert naming the newly disputed delivered charges and `paidup evidence`; returns how many. */
export async function alertDisputesAfterDelivery(deps: PassDeps): Promise<number> {
  const { ledger } = deps;
  if (channelsOf(deps).length === 0) return 0;
  const rows = await ledger.unalertedDisputes();
  if (rows.length === 0) return 0;
  const lines: string[] = [];
  for (const r of rows) {
    const c = await ledger.getCharge(r.charge_id);
    const what = c ? `${formatAmount(c.amount, c.currency)}  ${c.email ?? "(no email)"}  ${c.product ?? ""}` : "";
    lines.push(
      `- ${r.charge_id}  ${what}`,
      `  downloads before the dispute: ${r.downloads}`,
      `  proof of delivery: paidup evidence ${r.charge_id}   (add --attach to save it as draft evidence on the dispute)`,
    );
  }
  const body = [
    `${rows.length} delivered charge(s) were disputed. Their download links no longer work.`,
    "",
    ...lines,
    "",
    "Answer the dispute in Stripe's dashboard before its due date.",
  ].join("\n");
  const ids = rows.map((r) => r.charge_id);
  const recorded = await recordAlert(deps, { kind: "disputed", stamp: ids.join(","), subject: `[paidup] ${rows.length} delivered charge(s) disputed`, body, charges: ids }, { disputes: ids });
  return recorded ? rows.length : 0;
}

/** The pass's step: poll, then alert. A failure here is logged and never fails the pass. */
export async function watchAfterDelivery(deps: PassDeps): Promise<void> {
  try {
    await pollAfterDelivery(deps);
  } catch (err) {
    deps.log.warn("could not read refund and dispute events from Stripe; webhooks and the next pass cover it", { error: redact(err instanceof Error ? err.message : String(err)) });
  }
  await alertDisputesAfterDelivery(deps).catch((err: unknown) => deps.log.error("could not record the dispute alert", { error: redact(String(err)) }));
}
