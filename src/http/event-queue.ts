import type { Logger } from "../log";
import { redact } from "../redact";

/**
 * Work that a route accepted and answered before doing it (a webhook event after its 200, a
 * buyers' page request). One job at a time, in order: claims are atomic anyway, but one line
 * keeps sends paced. A job that throws is logged and the line goes on; what it left undone is
 * picked up by the next start (the event stays unhandled in the ledger) or by the next poll.
 */
export class WorkQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  /** `max`: jobs in line beyond which `tryPush` refuses (what anyone on the internet can add). */
  constructor(private readonly log: Logger, private readonly max = Infinity) {}

  /** Always queued: signed webhook events, which only the provider can send. */
  push(what: string, job: () => Promise<void>): void {
    this.pending++;
    this.tail = this.tail
      .then(job)
      .catch((err: unknown) => {
        this.log.error(`${what} failed; the next poll covers it`, { error: redact(err instanceof Error ? err.message : String(err)) });
      })
      .finally(() => {
        this.pending--;
      });
  }

  /** Queued only while the line is shorter than `max`; false when full (the caller answers 503), so the line never grows past it. */
  tryPush(what: string, job: () => Promise<void>): boolean {
    if (this.pending >= this.max) return false;
    this.push(what, job);
    return true;
  }

  /** Jobs queued or running. */
  get size(): number {
    return this.pending;
  }

  /** Resolves when every job pushed so far has finished. */
  idle(): Promise<void> {
    return this.tail;
  }
}
