import cliProgress from "cli-progress";
import type { PassCounts } from "../pass/reconcile";

// A long pass on a terminal (a backlog taken in with `init --since`) shows a live counter; under
// cron or systemd (no TTY) nothing is drawn and the summary line is the record.

export interface ProgressReporter {
  update: (counts: PassCounts) => void;
  stop: () => void;
}

const SHOW_AFTER = 50;

export function progressReporter(enabled: boolean): ProgressReporter {
  if (!enabled || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  let bar: cliProgress.SingleBar | null = null;
  return {
    update(c) {
      if (!bar && c.seen < SHOW_AFTER) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: "{value} charges seen | delivered {delivered} | already {already} | review {review} | retrying {retrying}", noTTYOutput: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(0, 0);
      }
      bar.update(c.seen, { delivered: c.delivered, already: c.alreadyDelivered, review: c.needsReview, retrying: c.retrying });
    },
    stop() {
      bar?.stop();
    },
  };
}

/** A bar of `done` out of `total` on a terminal (stderr); nothing under cron or on a pipe. */
export function countProgress(enabled: boolean, total: number, done: number, label: string): { add: (n: number) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY || total === 0) return { add: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `{bar} {value}/{total} ${label} | {percentage}% | {duration_formatted}`, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, done);
  return { add: (n) => bar.increment(n), stop: () => bar.stop() };
}
