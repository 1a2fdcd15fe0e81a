import type { ChildProcess } from "node:child_process";

// Waiting for an event instead of sleeping on a fixed timer: a test polls for what it needs (a
// log line, a ledger state, a fake server's request count) and fails only after a generous
// deadline, so a machine busy with other work makes a test slower, never red.

/** Long enough for a CLI subprocess to start and finish a pass on a machine under heavy load. */
export const PATIENCE_MS = 90_000;

/**
 * Resolves with the first truthy value of `check` (polled every `every` ms); throws after `ms`
 * with `what` and, if given, `detail()` (e.g. the process's stderr so far).
 */
export async function waitFor<T>(
  what: string, check: () => T | Promise<T>, opts: { ms?: number; every?: number; detail?: () => string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.ms ?? PATIENCE_MS);
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}${opts.detail ? `\n${opts.detail().slice(-2000)}` : ""}`);
    await new Promise((r) => setTimeout(r, opts.every ?? 20));
  }
}

/**
 * The base URL a `serve` or `daemon --serve` child prints when it listens ("listening on
 * http://127.0.0.1:<port>/…"); rejects if the child exits first, or after `ms`, with `stderr()`
 * so far. The port counts only once the "/" after it has arrived: a pipe may cut the line
 * anywhere, and a cut port would be another port.
 */
export function listeningOn(child: ChildProcess, stderr: () => string = () => "", ms = PATIENCE_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no "listening on" line within ${ms} ms: ${stderr()}`)), ms);
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${child.spawnargs.slice(2, 3).join(" ") || "child"} exited ${code}: ${stderr()}`));
    });
  });
}

/**
 * The exit code of a child that was asked to stop. A child still running after `ms` is killed
 * and the wait fails with `stderr()`: a process that does not stop is a finding, not a test run
 * that never ends.
 */
export function exitWithin(child: ChildProcess, stderr: () => string = () => "", ms = PATIENCE_MS): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`still running ${ms} ms after it was asked to stop: ${stderr().slice(-2000)}`));
    }, ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
