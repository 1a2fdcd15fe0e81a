// Errors are classified once, where they happen; the CLI maps each class to one exit code.

export const EXIT = Object.freeze({
  ok: 0,
  attention: 1,
  usage: 2,
  runtime: 3,
} as const);

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class PaidupError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad flag, bad config, missing key: nothing was changed (exit 2). */
export class UsageError extends PaidupError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.usage, hint);
  }
}

/** Stripe unreachable, ledger locked: nothing was lost, the next pass picks up (exit 3). */
export class RuntimeFailure extends PaidupError {
  constructor(message: string, hint?: string) {
    super(message, EXIT.runtime, hint);
  }
}

/**
 * The ledger's database server is unavailable for now: restarting, failing over, unreachable.
 * Exit 3 like any runtime failure; a daemon and `serve` wait it out (their next try may work).
 */
export class DatabaseUnavailable extends RuntimeFailure {}

/**
 * A runtime failure no later pass of this process can get past (its ledger file was deleted or
 * replaced under it): the daemon stops with exit 3 instead of waiting for the next tick.
 */
export class FatalFailure extends RuntimeFailure {}
