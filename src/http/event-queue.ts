import type { Logger } from "../log";
import { redact } from "../redact";

/**
 * Work that a route accepted and answered before doing it (a webhook event after its 200).
 * One job at a time, in order: claims are atomic anyway, but one line keeps sends paced. A job
 * that throws is logged and the line goes on; what it left undone is picked up by the next
 * start (the event stays unhandled in the ledger) or by the next poll.
 */
export class WorkQueue {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly log: Logger) {}

  push(what: string, job: () => Promise<void>): void {
    this.tail = this.tail.then(job).catch((err: unknown) => {
      this.log.error(`${what} failed; the next poll covers it`, { error: redact(err instanceof Error ? err.message : String(err)) });
    });
  }

  /** Resolves when every job pushed so far has finished. */
  idle(): Promise<void> {
    return this.tail;
  }
}
