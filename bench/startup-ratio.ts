import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { BIN, median, Workspace } from "./harness";

// Start-up beside its floor, in one run: `node -e 0`, `paidup --version` and `paidup status
// --offline` (an initialised ledger, no keys) run in turn, round after round, so machine load
// falls on all three alike. Wall time from spawn to exit, no measuring wrapper in between.

export interface StartupRatios {
  rounds: number;
  floorMs: number;
  versionMs: number;
  statusOfflineMs: number;
}

function timed(args: string[], ws: Workspace): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const env = { ...ws.env(), STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" };
    const child = spawn(process.execPath, args, { cwd: ws.dir, env, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", () => resolve(performance.now() - started));
  });
}

export async function startupRatios(rounds: number): Promise<StartupRatios> {
  const ws = await Workspace.start("startup-ratio");
  try {
    await ws.runOk(["init"]);
    const floor: number[] = [];
    const version: number[] = [];
    const status: number[] = [];
    for (let i = 0; i < rounds; i++) {
      floor.push(await timed(["-e", "0"], ws));
      version.push(await timed([BIN, "--version"], ws));
      status.push(await timed([BIN, "status", "--offline"], ws));
    }
    return { rounds, floorMs: median(floor), versionMs: median(version), statusOfflineMs: median(status) };
  } finally {
    await ws.close();
  }
}
