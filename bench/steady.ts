import { BIN, medianRun, paidCharge, Workspace } from "./harness";
import { seedDelivered } from "./scenarios";

// `npm run build && node dist/bench/steady.js [--sizes 10000,100000] [--reps 3] [--bin <bin/paidup>]`:
// only the steady-pass scenario of `npm run bench` (a seeded history of delivered charges, then
// ordinary passes with nothing new), for checking that a change leaves it where it was. `--bin`
// measures another build (a copy of the old one) against the same harness.

function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const sizes = (arg("--sizes") ?? "10000,100000").split(",").map(Number);
  const reps = Number(arg("--reps") ?? 3);
  const script = arg("--bin") ?? BIN;
  const rows: string[] = [];
  for (const n of sizes) {
    const ws = await Workspace.start(`steady${n}`);
    try {
      const end = Math.floor(Date.now() / 1000) - 600; // outside the listing window, as in scenarios.ts
      ws.stripe.bulkAddCharges(n, (i) => paidCharge(i, end - (n - 1 - i)));
      await ws.runOk(["init", "--since", new Date((end - n - 60) * 1000).toISOString()], { script });
      seedDelivered(ws, ws.stripe.charges().map((c) => ({ id: c.id, created: c.created, email: c.billing_details.email ?? "" })));
      const m = await medianRun(reps, () => ws.runOk(["reconcile"], { script }));
      if (!/seen 0,/.test(m.stdout)) throw new Error(`steady pass saw charges: ${m.stdout}`);
      rows.push(`| ${n / 1000}k | ${Math.round(m.wallMs)} | ${m.wallMsAll.map((w) => Math.round(w)).join(", ")} | ${Math.round(m.userMs + m.sysMs)} | ${m.rssMiB.toFixed(0)} | ${m.stripeRequests} | ${m.resendRequests} |`);
    } finally {
      await ws.close();
    }
  }
  process.stdout.write(["| history | wall ms (median) | walls | CPU ms | RSS MiB | Stripe req | Resend req |", "| --- | --- | --- | --- | --- | --- | --- |", ...rows].join("\n") + "\n");
}

main().catch((err) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
