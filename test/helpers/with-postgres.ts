import { spawn } from "node:child_process";
import { startCluster } from "./postgres";

// Runs a command (the test suite) with one throwaway PostgreSQL cluster for all its test files:
// `node dist/test/helpers/with-postgres.js node --test dist/test/`. Stopped and removed after.

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd) {
    // `node --test dist/test/` runs every file under it, this one included: nothing to do then.
    if (process.env.NODE_TEST_CONTEXT) return;
    throw new Error("usage: with-postgres <command> [args…]");
  }
  const c = await startCluster();
  let code = 1;
  try {
    code = await new Promise<number>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: "inherit", env: { ...process.env, PAIDUP_TEST_PG: JSON.stringify({ socketDir: c.socketDir, port: c.port }) } });
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
      child.on("error", reject);
      child.on("close", (n, signal) => resolve(n ?? (signal ? 1 : 0)));
    });
  } finally {
    c.stop();
  }
  process.exitCode = code;
}

void main();
