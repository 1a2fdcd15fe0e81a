import Database from "better-sqlite3";
import { medianRun, Measured, paidCharge, Workspace } from "./harness";
import { seedDelivered } from "./scenarios";

// `node dist/bench/relist.js [--sizes 10000,100000] [--reps 3]`: what the hourly 72 h re-list
// costs. Each history is one delivered charge a second, all within the last 72 hours (the worst
// case: every charge of the history is re-listed). Measured with the real CLI: an ordinary pass,
// a pass with the re-list due (its `relisted_at` removed from the ledger), and `status` (which
// looks back the same 72 hours for missing charges).

const HISTORY_ENDS_AGO_S = 600;

interface RelistFigures {
  charges: number;
  steady: Measured;
  relist: Measured;
  relistSeen: number;
  status: Measured;
}

function relistDue(ws: Workspace): void {
  const db = new Database(ws.dbPath);
  try {
    db.prepare("DELETE FROM meta WHERE key = 'relisted_at'").run();
  } finally {
    db.close();
  }
}

async function measure(n: number, reps: number): Promise<RelistFigures> {
  const ws = await Workspace.start(`relist-${n}`);
  try {
    const end = Math.floor(Date.now() / 1000) - HISTORY_ENDS_AGO_S;
    ws.stripe.bulkAddCharges(n, (i) => paidCharge(i, end - (n - 1 - i)));
    await ws.runOk(["init", "--since", new Date((end - n - 60) * 1000).toISOString()]);
    seedDelivered(ws, ws.stripe.charges().map((c) => ({ id: c.id, created: c.created, email: c.billing_details.email ?? "" })));
    const steady = await medianRun(reps, () => ws.runOk(["reconcile"]));
    const relist = await medianRun(reps, () => {
      relistDue(ws);
      return ws.runOk(["reconcile"]);
    });
    const relistSeen = Number(/seen (\d+)/.exec(relist.stdout)?.[1] ?? NaN);
    // status may exit 1 (a stale or missing pass record); its cost is the figure here.
    const status = await medianRun(reps, () => ws.runOk(["status"], { allow: [1] }));
    return { charges: n, steady, relist, relistSeen, status };
  } finally {
    await ws.close();
  }
}

const ms = (x: number) => x.toFixed(0);
const cpu = (m: Measured) => m.userMs + m.sysMs;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const sizes = (value("--sizes") ?? "10000,100000").split(",").map(Number);
  const reps = Number(value("--reps") ?? 3);
  const rows: string[] = [];
  for (const n of sizes) {
    process.stderr.write(`re-list at ${n}\n`);
    const f = await measure(n, reps);
    rows.push(`| ${n.toLocaleString("en-US")} | ${ms(f.steady.wallMs)} | ${f.steady.stripeRequests} | ${ms(f.relist.wallMs)} | ${ms(cpu(f.relist))} | ${f.relist.rssMiB.toFixed(0)} | ${f.relist.stripeRequests} | ${f.relistSeen} | ${ms(f.status.wallMs)} | ${f.status.stripeRequests} |`);
  }
  process.stdout.write([
    `Median of ${reps} runs each; the fakes answer without latency, so against Stripe add its latency per list request (about 0.3 s a page: the request counts are the figure to scale).`,
    "",
    "| charges in the last 72 h | ordinary pass wall ms | Stripe req | pass with re-list due wall ms | CPU ms | RSS MiB | Stripe req | charges seen | status wall ms | status Stripe req |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n"));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
