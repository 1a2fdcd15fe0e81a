import { AsyncLocalStorage } from "node:async_hooks";

/**
 * One better-sqlite3 connection is shared by all the async work of a process (a pool of sends
 * in flight, webhooks beside a pass). An async transaction spans awaits, so without this lock a
 * second task's statements would run inside the first one's BEGIN … COMMIT, and be rolled back
 * with it. Everything that touches the connection takes the lock; a transaction holds it
 * until COMMIT or ROLLBACK.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private readonly holder = new AsyncLocalStorage<Mutex>();

  /** One statement (or a few, run synchronously): nothing in `fn` awaits the connection again. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.turn(fn, false);
  }

  /**
   * A transaction: its turn lasts across awaits, and is marked in the async context so that the
   * outer handle, used by mistake inside it, fails at once. Only this marks the context: on
   * Node 20 the first AsyncLocalStorage.run turns promise hooks on for the whole process, a cost
   * that a read-only command such as `status --offline` need not pay.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.turn(fn, true);
  }

  private async turn<T>(fn: () => T | Promise<T>, mark: boolean): Promise<T> {
    if (this.holder.getStore() === this) {
      // Waiting here would wait for ourselves forever: fail loudly instead of hanging a pass.
      throw new Error("ledger used through its outer handle inside a transaction; use the transaction's handle");
    }
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await before;
    try {
      return await (mark ? this.holder.run(this, fn) : fn());
    } finally {
      release();
    }
  }
}
