import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

// `paidup lookup … | head -1` or a monitor that reads only the exit code: the reader closes the
// pipe before paidup writes. That must not end in Node's "Unhandled 'error' event" and a stack
// trace on stderr (mailed to the owner by cron), nor change what the command did.

const bin = path.join(__dirname, "..", "..", "bin", "paidup");

function pipedIntoTrue(args: string, env: NodeJS.ProcessEnv = {}): { stderr: string } {
  // `true` exits at once without reading: paidup's first write meets a closed pipe (EPIPE).
  const r = spawnSync("sh", ["-c", `"${bin}" ${args} | true`], { encoding: "utf8", env: { ...process.env, ...env } });
  return { stderr: r.stderr };
}

test("a reader that closes the pipe early gets no stack trace from paidup --help", () => {
  const r = pipedIntoTrue("--help");
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled 'error' event|\n\s+at /, r.stderr);
});

test("a reader that closes the pipe early gets no stack trace from a failing --json command (its error object on stdout)", () => {
  const r = pipedIntoTrue("status --offline --json", { PAIDUP_CONFIG: "/nonexistent/paidup.config.json" });
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled 'error' event|\n\s+at /, r.stderr);
});
