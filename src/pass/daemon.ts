import cron from "node-cron";
import { FatalFailure, UsageError } from "../errors";
import type { Logger } from "../log";
import { redact } from "../redact";

// The daemon only decides when a pass runs. The pass itself (runPass) records its heartbeat
// and sends its alerts; a pass that throws is logged and the next tick tries again.

export const DEFAULT_SCHEDULE = "* * * * *";

/** Something that calls `tick` on a cron schedule. Injected so tests drive the ticks. */
export interface Scheduler {
  schedule(expression: string, tick: () => Promise<void>, name: string): { stop(): void | Promise<void> };
}

/**
 * node-cron warns "task still running, new execution blocked by overlap prevention" on every tick
 * of a long pass: that is the schedule working as meant, so it goes to debug (startDaemon says
 * once, at info, that a pass outlasts the schedule).
 */
export function cronScheduler(log: Logger): Scheduler {
  const cronLog = {
    info: (m: string) => log.debug(m),
    warn: (m: string) => (/still running|overlap/i.test(m) ? log.debug(m) : log.warn(m)),
    error: (m: string | Error) => log.error(String(m)),
    debug: (m: string | Error) => log.debug(String(m)),
  };
  return {
    schedule(expression, tick, name) {
      const task = cron.schedule(expression, tick, { noOverlap: true, name, logger: cronLog });
      return {
        stop: async () => {
          await task.stop();
          await task.destroy();
        },
      };
    },
  };
}

export interface DaemonOptions {
  schedule?: string;
  /** One pass; it must stop before its next claim once `signal` is aborted. */
  pass: (signal: AbortSignal) => Promise<unknown>;
  log: Logger;
  scheduler?: Scheduler;
}

export interface DaemonHandle {
  /** Settles with the failure that stopped the daemon on its own (a FatalFailure of a pass). */
  readonly failed: Promise<FatalFailure>;
  /** Stops the schedule, aborts the running pass (its send in flight completes), waits for it. */
  stop(): Promise<void>;
  /** Passes started so far. */
  readonly passes: number;
}

export function validateSchedule(expression: string): void {
  if (!cron.validate(expression)) {
    throw new UsageError(`--schedule "${expression}" is not a cron expression`, 'e.g. "* * * * *" (every minute) or "*/5 * * * *"; a leading sixth field counts seconds');
  }
}

/** Starts passes on a schedule, never two at once. Reusable by `daemon --serve`. */
export function startDaemon(opts: DaemonOptions): DaemonHandle {
  const expression = opts.schedule ?? DEFAULT_SCHEDULE;
  validateSchedule(expression);
  const { log } = opts;
  const controller = new AbortController();
  let running: Promise<void> | null = null;
  let stopping = false;
  let passes = 0;
  let skippedThisPass = 0;
  let fail!: (err: FatalFailure) => void;
  const failed = new Promise<FatalFailure>((resolve) => (fail = resolve));

  const tick = async (): Promise<void> => {
    if (stopping) return;
    // node-cron's noOverlap has had bugs (FACTS.md): this guard is the one we rely on.
    if (running) {
      // Once per long pass at info; every further skipped tick only at debug.
      if (skippedThisPass++ === 0) log.info("a pass is still running; ticks are skipped until it ends");
      else log.debug("previous pass still running; skipping this tick");
      return;
    }
    passes++;
    skippedThisPass = 0;
    running = opts.pass(controller.signal).then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof FatalFailure) {
          // No later tick can get past this one: stop the schedule and let the command exit 3.
          stopping = true;
          void Promise.resolve(task.stop()).finally(() => fail(err));
          return;
        }
        // Nothing is committed without a confirmed send: the next tick picks up where this stopped.
        log.error("pass failed; waiting for the next tick", { error: redact(err instanceof Error ? err.message : String(err)) });
      },
    );
    try {
      await running;
    } finally {
      running = null;
    }
  };

  const task = (opts.scheduler ?? cronScheduler(log)).schedule(expression, tick, "paidup-reconcile");
  log.info(`daemon started; passes run on the schedule "${expression}"`);

  return {
    failed,
    get passes() {
      return passes;
    },
    async stop() {
      if (controller.signal.aborted) return;
      stopping = true;
      await task.stop();
      controller.abort();
      if (running) {
        log.info("waiting for the pass in hand to finish its send in flight");
        await running;
      }
      log.info("daemon stopped cleanly");
    },
  };
}
