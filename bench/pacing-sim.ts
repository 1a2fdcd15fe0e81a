import { modeName, RATE_MODES } from "../test/fakes/rate-window";
import { simulate } from "../test/helpers/pacing-sim";

// `node dist/bench/pacing-sim.js [sends] [passes]`: the pacing table on a virtual clock (paidup's
// Mailer, Pacer and SendPool against the fake's RateWindow; test/helpers/pacing-sim.ts), in every
// rate mode. Seconds to run, no load dependence: the shape of the pacer, not of this machine.

async function main(): Promise<void> {
  const sends = Number(process.argv[2] ?? 500);
  const passes = Number(process.argv[3] ?? 4);
  for (const mode of Object.values(RATE_MODES)) {
    console.log(`\n${modeName(mode)}: share / 429s / peak per second (${sends} sends, 1 pass, 5 ms jitter)`);
    console.log("| latency | 2/s | 5/s | 10/s |");
    for (const latencyMs of [0, 100, 250, 500]) {
      const cells: string[] = [];
      for (const allowed of [2, 5, 10]) {
        const r = await simulate({ allowed, mode, latencyMs, ceiling: 10, sends, jitterMs: 5 });
        cells.push(`${(r.share * 100).toFixed(1)} % / ${r.rateLimited} / ${r.peakPerSecond}`);
      }
      console.log(`| ${latencyMs} ms | ${cells.join(" | ")} |`);
    }
    const shared = await simulate({ allowed: 5, mode, latencyMs: 250, ceiling: 10, sends, passes, jitterMs: 5, startSpreadMs: 50 });
    console.log(`${passes} passes at once, 5/s at 250 ms: ${(shared.share * 100).toFixed(1)} % / ${shared.rateLimited} 429s for ${sends} sends`);
  }
}

void main();
