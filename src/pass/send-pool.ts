/**
 * Runs a pass's deliveries side by side: at most `size()` at once, and never two of one key at
 * once (a delivery handed in twice waits for the first to finish, whose commit it then sees).
 * Each task is a whole claim → send → commit; the pool only decides when it starts.
 *
 * One answer takes Resend a few hundred milliseconds, so one send at a time cannot reach the
 * rate Resend allows; the pacer, not the pool, keeps the sends under that rate.
 */
export class SendPool {
  private readonly running = new Map<string, Promise<void>>();
  private readonly slotWaiters: (() => void)[] = [];
  private active = 0;
  private failure: { error: unknown } | null = null;

  constructor(private readonly size: () => number) {}

  /**
   * Waits for a free slot, then starts `task` without waiting for it to end. Throws the first
   * failure of an earlier task instead, so the caller stops handing in work.
   */
  async add(key: string, task: () => Promise<void>): Promise<void> {
    this.throwIfFailed();
    while (this.active >= Math.max(1, this.size())) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    this.throwIfFailed();
    this.active++;
    const previous = this.running.get(key);
    const run: Promise<void> = (previous ?? Promise.resolve())
      .then(task)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.active--;
        if (this.running.get(key) === run) this.running.delete(key);
        this.slotWaiters.shift()?.();
      });
    this.running.set(key, run);
  }

  /** How many tasks hold a slot now (running, or queued behind another of their key). */
  get inFlight(): number {
    return this.active;
  }

  /** Waits until every task started has ended; throws the first task's failure, if any. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  /** Waits until every task started has ended, failures included (used when the walk itself failed). */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values());
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
