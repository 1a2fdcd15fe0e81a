import type { PassDeps } from "./pass-deps";
import { recordEmailEvent } from "./email-status";

// Without Resend's webhook, a pass asks Resend (`emails.get`) for the last event of recent
// delivery emails that have no final word yet, so a bounce is noticed within an hour anyway.
// Reads share the send rate limit: they wait their turn in the same pacer, and take at most a
// fifth of the sends Resend allows since the last poll, so sends keep four fifths.

/** Bounces come back within minutes; an email older than this is not asked about any more. */
const LOOK_BACK_MS = 72 * 3_600_000;
/** Asked first once this old (a bounce takes a few minutes), then again every RECHECK_MS. */
const FIRST_CHECK_AFTER_MS = 5 * 60_000;
const RECHECK_MS = 15 * 60_000;
/** The budget is counted over at most a minute: a pass after a long pause does not poll in a burst. */
const MAX_WINDOW_MS = 60_000;
const SHARE_OF_RATE = 1 / 5;

/** What the fallback did in one pass. */
export interface PollReport {
  checked: number;
  bounced: number;
  /** Why polling stopped early (a sending-only key, Resend unreachable), if it did. */
  stopped?: string;
}

/** Per mailer (one per process): when it last polled, and until when its key was found sending-only. */
const pollState = new WeakMap<object, { lastPollAt: number | null; deniedUntil: number }>();

export async function pollEmailStatus(deps: PassDeps): Promise<PollReport> {
  const report: PollReport = { checked: 0, bounced: 0 };
  const { mailer, ledger, clock } = deps;
  const now = clock.now();
  if (!mailer || deps.signal?.aborted) return report;
  const state = pollState.get(mailer) ?? { lastPollAt: null, deniedUntil: 0 };
  pollState.set(mailer, state);
  if (now < state.deniedUntil) return report;
  const window = Math.min(MAX_WINDOW_MS, state.lastPollAt === null ? MAX_WINDOW_MS : Math.max(0, now - state.lastPollAt));
  const budget = Math.floor((mailer.pacer.ratePerSecond * window * SHARE_OF_RATE) / 1000);
  if (budget < 1) return report;
  const due = await ledger.emailsToCheck(now - LOOK_BACK_MS, now - FIRST_CHECK_AFTER_MS, now - RECHECK_MS, budget);
  try {
    for (const d of due) {
      if (deps.signal?.aborted) break;
      await mailer.waitTurn(deps.signal);
      const answer = await mailer.lastEvent(d.email_id);
      if (!answer.ok) {
        if (answer.denied) {
          // A sending-only key cannot read emails: say so once a day, not every pass.
          state.deniedUntil = clock.now() + 24 * 3_600_000;
          deps.log.info("Resend's status of sent emails cannot be read with a sending-only key; set RESEND_WEBHOOK_SECRET and Resend's webhook to hear about bounces");
        } else {
          deps.log.warn("could not ask Resend for an email's status; the next pass asks again", { error: answer.reason });
        }
        report.stopped = answer.reason;
        break;
      }
      report.checked++;
      const at = clock.now();
      await ledger.recordEmailCheck(d.email_id, d.charge_id, answer.lastEvent, at);
      if (!answer.lastEvent) continue;
      const type = `email.${answer.lastEvent}`;
      const outcome = await recordEmailEvent(deps, { id: `poll:${d.email_id}:${answer.lastEvent}`, emailId: d.email_id, type, at, detail: "from emails.get (no webhook)", source: "poll" });
      if (outcome === "bounced") report.bounced++;
    }
  } finally {
    // The budget accrues from the end of this poll: time spent reading is not earned again.
    state.lastPollAt = clock.now();
  }
  return report;
}
