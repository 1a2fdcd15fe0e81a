import { BOUNCE_TYPES, EmailEvent } from "../ledger";
import { alertNewlyStuck, deliverAlerts } from "./alerts";
import type { PassDeps } from "./pass-deps";

// Resend's word on an email after it accepted it, from its webhook or from a pass asking
// `emails.get`: recorded per email (shown by `show` and `evidence`); a bounce, failure or
// suppression of a delivery makes its charge `bounced`, which is stuck and alerted once.

export type EmailEventOutcome = "duplicate" | "not_ours" | "recorded" | "bounced";

export const isBounce = (type: string): boolean => (BOUNCE_TYPES as readonly string[]).includes(type);

/** What the owner reads as the reason of a bounced charge. */
export function bounceReason(type: string, detail: string | null): string {
  return `Resend reported ${type}${detail ? `: ${detail}` : ""}`;
}

/** Records the event once; a bounce of a delivery's email makes its charge `bounced`. */
export async function recordEmailEvent(deps: PassDeps, e: EmailEvent): Promise<EmailEventOutcome> {
  const now = deps.clock.now();
  const { fresh, charge } = await deps.ledger.recordEmailEvent(e, now);
  if (!fresh) return "duplicate";
  // An alert, or another app on the same Resend team: acknowledged, nothing to do.
  if (!charge) return "not_ours";
  if (isBounce(e.type) && (await deps.ledger.markBounced(charge, e.emailId, bounceReason(e.type, e.detail), now))) {
    deps.log.warn("delivery bounced", { charge, emailId: e.emailId, type: e.type });
    return "bounced";
  }
  return "recorded";
}

/** After a webhook bounced a charge: the owner hears now, not at the next pass. */
export async function alertBounces(deps: PassDeps): Promise<void> {
  await alertNewlyStuck(deps);
  await deliverAlerts(deps);
}
