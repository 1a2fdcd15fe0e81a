/**
 * How much of Resend's per-team rate this process takes when other senders of the team use it
 * too (a cron pass beside a manual one, a second host, another app of the team). The pacer
 * tells it what each answer showed; it answers with a pace (sends per second) and how long a
 * 429 holds.
 *
 * Pacing "at most n starts in any second" uses at most n of a window's slots whatever its phase,
 * so senders whose n's add up to the limit never collide. Senders pacing at fractions of it
 * (2.5/s each under a limit of 5) do, whenever their phases line up. So the pace is a whole
 * number of sends per second (below 1/s only when the limit itself is below 2/s), set
 * AIMD-fashion as TCP does:
 * - a 429 that others' sends explain halves it and doubles the hold after each such 429 in a
 *   row (up to MAX_BACKOFF × `retry-after`), so a sender that keeps finding the window full
 *   asks less and less often;
 * - a window full with others in it is the limit shared exactly: the pace stays;
 * - a free slot on every answer for a while adds one send per second: after PROBE_AFTER_MS when
 *   nobody else has been seen lately (a pass alone again climbs back in seconds), after longer
 *   and longer waits (up to MAX_PROBE_AFTER_MS) each time a climb ended in a 429 (a fixed
 *   window shows room to a sender early in each second even when it is full).
 * A process that never meets anyone keeps the full rate throughout.
 */
const PROBE_AFTER_MS = 2000;
const MAX_PROBE_AFTER_MS = 8000;
/** A climb needs this many answers with room, not one lucky one. */
const PROBE_ANSWERS = 3;
const MAX_BACKOFF = 4;
/** Below 1/s (a limit under 2/s), the pace moves by these factors instead of whole steps. */
const SUB_ONE_CUT = 0.7;
const SUB_ONE_GAIN = 1.25;

export class TeamShare {
  /** Sends per second while others share the limit; null: all that is allowed. */
  private pace: number | null = null;
  private roomSince = 0;
  private roomAnswers = 0;
  private refusedInARow = 0;
  private othersSeenAt = -Infinity;
  private probeAfterMs = PROBE_AFTER_MS;

  /** The pace to keep, given what Resend and the config allow now. */
  paceWithin(allowed: number): number {
    return Math.min(allowed, this.pace ?? Infinity);
  }

  /** The first answer already shows `others` in the window: start with the slots they left. */
  firstAnswer(limit: number, others: number, allowed: number, now: number): void {
    if (others > 0) this.setPace(Math.max(1, limit - others), allowed, now);
  }

  /** An accepted request; `others`: sends in Resend's count that were not ours. */
  accepted(remaining: number, others: number, allowed: number, now: number): void {
    this.refusedInARow = 0;
    if (others > 0) this.othersSeenAt = now;
    if (remaining === 0 && others > 0) {
      this.roomSince = now;
      this.roomAnswers = 0;
      return;
    }
    this.roomAnswers++;
    const after = now - this.othersSeenAt > PROBE_AFTER_MS ? PROBE_AFTER_MS : this.probeAfterMs;
    if (this.pace === null || now - this.roomSince < after || this.roomAnswers < PROBE_ANSWERS) return;
    this.setPace(this.pace < 1 ? Math.min(1, this.pace * SUB_ONE_GAIN) : Math.floor(this.pace) + 1, allowed, now);
  }

  /**
   * A 429 that others' sends explain (one our own sends explain is jitter: the pacer's margin).
   * Returns how many times `retry-after` to hold.
   */
  refusedByOthers(allowed: number, now: number): number {
    const pace = this.paceWithin(allowed);
    this.setPace(pace > 1 ? Math.max(1, Math.floor(pace / 2)) : Math.max(Math.min(1, allowed / 2), pace * SUB_ONE_CUT), allowed, now);
    this.othersSeenAt = now;
    this.probeAfterMs = Math.min(MAX_PROBE_AFTER_MS, this.probeAfterMs * 2);
    return Math.min(MAX_BACKOFF, 2 ** this.refusedInARow++);
  }

  private setPace(pace: number, allowed: number, now: number): void {
    this.pace = pace >= allowed ? null : pace;
    this.roomSince = now;
    this.roomAnswers = 0;
  }
}
