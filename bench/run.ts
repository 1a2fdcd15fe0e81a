import { execSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Measured, Workspace } from "./harness";
import { SizeFigures, sizeScenario, startup, StartupFigures, statusRegistered } from "./scenarios";
import { webhookLatency, WebhookFigures } from "./webhooks";
import { PACING_CEILING, pacingCell, PacingCell } from "./pacing";
import { startupRatios, StartupRatios } from "./startup-ratio";
import { FIXED_FRACTIONAL, modeName, RESEND_LIKE } from "../test/fakes/rate-window";

// `npm run bench [-- --quick | --sizes 1000,10000 | --reps 3 | --cpu-prof]`: the real CLI against
// in-process fake Stripe and Resend. Figures: wall time (spawn to exit, as seen from here), peak
// RSS and user+sys CPU of the paidup process (process.resourceUsage() via bench/child.ts), and
// the requests each fake received during the run. Sizes also via BENCH_SIZES=1000,10000.

interface Args {
  sizes: number[];
  /** Charges per cell of the pacing table. */
  pacingCharges: number;
  startupRounds: number;
  reps: number;
  burst: number;
  lowRate: number;
  cpuProfile: boolean;
  /** `--only pacing,startup`: just those sections (what a pacing change needs measured). */
  only: string[] | null;
  /** Charges of the passes-at-once row. */
  sharedCharges: number;
}

function parseArgs(argv: string[]): Args {
  const quick = argv.includes("--quick");
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const sizesRaw = value("--sizes") ?? process.env.BENCH_SIZES ?? (quick ? "1000" : "1000,10000,100000");
  const sizes = sizesRaw.split(",").map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`bad sizes: ${sizesRaw}`);
  return {
    sizes,
    pacingCharges: Number(value("--pacing-charges") ?? (quick ? 100 : 500)),
    startupRounds: quick ? 11 : 21,
    reps: Number(value("--reps") ?? 3),
    burst: quick ? 200 : 1000,
    lowRate: quick ? 100 : 1000,
    cpuProfile: argv.includes("--cpu-prof"),
    only: value("--only")?.split(",").map((x) => x.trim()) ?? null,
    sharedCharges: Number(value("--shared-charges") ?? 500),
  };
}

function machine(): string[] {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model ?? "?";
  let free = "";
  try {
    free = execSync("free -g", { encoding: "utf8" }).trim();
  } catch {
    free = `${Math.round(os.totalmem() / 2 ** 30)} GiB total`;
  }
  let nproc = String(os.availableParallelism());
  try {
    nproc = execSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    // keep os.availableParallelism()
  }
  return [`nproc: ${nproc}`, `CPU: ${cpu}`, `node: ${process.version}`, `kernel: ${os.release()}`, "free -g:", ...free.split("\n").map((l) => `    ${l}`)];
}

const ms = (x: number) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : Math.round(x).toString()) : "n/a");
const mib = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "n/a");
const k = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
const cpu = (m: Measured) => m.userMs + m.sysMs;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

const LATENCIES = [0, 100, 250, 500];
const ALLOWED = [2, 5, 10];
/** Several passes at once on one Resend allowance (issue 12 item 2). */
const SHARED = { latencyMs: 250, allowed: 5, passes: 4 };
/** The fake's two extremes (issue 20): Resend's own (sliding, whole seconds) and fixed with fractions. */
const MODES = [RESEND_LIKE, FIXED_FRACTIONAL];
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(", ");

interface Extra {
  pacing: PacingCell[];
  ratios: StartupRatios | null;
  /** `uptime`'s load averages before and after the start-up rounds. */
  ratiosLoad: [string, string];
  commitsCpuMsPerCharge: number;
}

type Check = (ok: boolean, what: string) => string;
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** The pacing table (both fake modes side by side), the passes-at-once rows and start-up beside its floor. */
function pacingAndStartup(args: Args, extra: Pick<Extra, "pacing" | "ratios" | "ratiosLoad">, check: Check): string[] {
  const out: string[] = [];
  if (extra.pacing.length > 0) {
    const charges = extra.pacing.find((c) => c.passes === 1)?.charges ?? args.pacingCharges;
    const loads = extra.pacing.map((c) => c.load1);
    out.push(`## Sends at Resend's allowance (${charges} charges per cell; config resend.maxPerSecond ${PACING_CEILING}; share of the allowed rate achieved / 429s seen / charges not delivered once; load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} at the cells' ends)`, table(
      ["latency", ...MODES.flatMap((m) => ALLOWED.map((a) => `${modeName(m)} ${a}/s`)), "target ≥ 95 %, none failed"],
      LATENCIES.map((lat) => {
        const cells = MODES.flatMap((m) => ALLOWED.map((a) => extra.pacing.find((c) => c.latencyMs === lat && c.allowed === a && c.passes === 1 && c.mode === modeName(m)) as PacingCell));
        const ok = cells.every((c) => c.share >= 0.95 && c.failed === 0 && c.emailedTwice === 0);
        return [`${lat} ms`, ...cells.map((c) => `${pct(c.share)} / ${c.rateLimited} / ${c.failed + c.emailedTwice}`), check(ok, `pacing at ${lat} ms`)];
      }),
    ));
    for (const shared of extra.pacing.filter((c) => c.passes > 1)) {
      out.push(`\n${shared.mode}: ${shared.passes} passes started at once on ${shared.charges} charges, Resend allowing ${shared.allowed}/s at ${shared.latencyMs} ms: ` +
        `${pct(shared.share)} of the allowance in all, ${shared.rateLimited} 429s (${pct(shared.rateLimited / shared.charges)} of the sends), ${shared.failed} not delivered, ${shared.emailedTwice} emailed twice, load ${shared.load1.toFixed(1)} ` +
        `(${check(shared.share >= 0.9 && shared.rateLimited < 0.05 * shared.charges && shared.failed === 0 && shared.emailedTwice === 0, `passes at once (${shared.mode})`)}: target ≥ 90 % in all, 429s under 5 % of the sends).`);
    }
  }

  const r = extra.ratios as StartupRatios | null;
  if (r) out.push(`\n## Start-up beside its floor (median of ${r.rounds} rounds, run in turn; load average ${extra.ratiosLoad[0]} before, ${extra.ratiosLoad[1]} after)`, table(
    ["run", "wall ms", "ratio to node -e 0", "target ≤ 1.5×"],
    [
      ["node -e 0 (floor)", ms(r.floorMs), "1.00×", ""],
      ["paidup --version", ms(r.versionMs), `${(r.versionMs / r.floorMs).toFixed(2)}×`, check(r.versionMs <= 1.5 * r.floorMs, "--version start-up")],
      ["paidup status --offline", ms(r.statusOfflineMs), `${(r.statusOfflineMs / r.floorMs).toFixed(2)}×`, check(r.statusOfflineMs <= 1.5 * r.floorMs, "status --offline start-up")],
    ],
  ));

  return out;
}

function report(args: Args, start: StartupFigures, sizes: SizeFigures[], hooks: WebhookFigures, hasStatus: boolean, extra: Extra): { text: string; misses: string[] } {
  const out: string[] = [];
  const misses: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (!ok) misses.push(what);
    return ok ? "met" : "MISSED";
  };

  out.push(...pacingAndStartup(args, extra, check));

  out.push("## CLI start-up", table(
    ["run", "wall ms (median)", "peak RSS MiB", "CPU ms", "Stripe req", "Resend req"],
    [
      ["paidup --version", ms(start.version.wallMs), mib(start.version.rssMiB), ms(cpu(start.version)), "0", "0"],
      ["reconcile, empty ledger, empty Stripe", ms(start.emptyPass.wallMs), mib(start.emptyPass.rssMiB), ms(cpu(start.emptyPass)), String(start.emptyPass.stripeRequests), String(start.emptyPass.resendRequests)],
    ],
  ));

  out.push("\n## Steady-state pass, nothing new (median of " + args.reps + " runs), against the naive poller", table(
    ["history", "ledger built by", "paidup wall ms", "paidup RSS MiB", "paidup CPU ms", "Stripe req", "Resend req", "naive wall ms", "naive RSS MiB", "naive Stripe req", "naive/paidup wall", "naive/paidup req", "target 1 Stripe / 0 Resend"],
    sizes.map((s) => [
      k(s.charges), s.builtBy, ms(s.steady.wallMs), mib(s.steady.rssMiB), ms(cpu(s.steady)), String(s.steady.stripeRequests), String(s.steady.resendRequests),
      ms(s.naive.wallMs), mib(s.naive.rssMiB), String(s.naive.stripeRequests),
      `${(s.naive.wallMs / s.steady.wallMs).toFixed(1)}×`, `${(s.naive.stripeRequests / s.steady.stripeRequests).toFixed(0)}×`,
      check(s.steady.stripeRequests === 1 && s.steady.stripeListRequests === 1 && s.steady.resendRequests === 0, `steady pass at ${k(s.charges)}`),
    ]),
  ));

  out.push("\n## A pass after 100 new charges arrive", table(
    ["history", "wall ms", "RSS MiB", "CPU ms", "Stripe req", "Resend req", "emails sent", "target: requests from the 100, not the history"],
    sizes.map((s) => [
      k(s.charges), ms(s.after100.wallMs), mib(s.after100.rssMiB), ms(cpu(s.after100)), String(s.after100.stripeRequests), String(s.after100.resendRequests), String(s.after100Sent),
      check(s.after100.stripeRequests === 1 && s.after100.resendRequests === 100 && s.after100Sent === 100, `pass after 100 new at ${k(s.charges)}`),
    ]),
  ));

  const full = sizes.filter((s) => s.firstPass && s.floor);
  const commits = extra.commitsCpuMsPerCharge;
  out.push(`\n## First full delivery pass (fake Resend: no latency, no rate limit; config maxPerSecond 100); floors: the HTTP floor, and the two durable commits alone (${commits.toFixed(3)} ms CPU per charge)`, table(
    ["charges", "wall s", "sends/s", "Stripe req/charge", "Resend req/charge", "RSS MiB", "paidup CPU ms/charge", "HTTP floor CPU ms/charge (paced 10 ms)", "paidup / HTTP floor", "own CPU ms/charge (− HTTP floor)", "own beyond the two commits", "target < 0.2 ms"],
    full.map((s) => {
      const f = s.firstPass as Measured;
      const fl = s.floor as Measured;
      const own = (cpu(f) - cpu(fl)) / s.charges;
      const beyond = own - commits;
      return [
        k(s.charges), (f.wallMs / 1000).toFixed(1), (s.charges / (f.wallMs / 1000)).toFixed(0), (f.stripeRequests / s.charges).toFixed(3), (f.resendRequests / s.charges).toFixed(3),
        mib(f.rssMiB), (cpu(f) / s.charges).toFixed(3), (cpu(fl) / s.charges).toFixed(3), `${(cpu(f) / cpu(fl)).toFixed(2)}×`, own.toFixed(3), beyond.toFixed(3),
        check(beyond < 0.2, `own CPU per charge beyond the commits at ${k(s.charges)} (${beyond.toFixed(3)} ms)`),
      ];
    }),
  ));
  for (const s of full) if (s.cpuProfileDir) out.push(`CPU profile of the ${k(s.charges)} first pass: ${s.cpuProfileDir}`);

  const na = "n/a (status not registered in the CLI)";
  out.push("\n## status (read-only; exit 1 expected where no pass was recorded)", table(
    ["history", "status --offline wall ms", "RSS MiB", "status wall ms", "RSS MiB", "status Stripe req"],
    sizes.map((s) => (hasStatus && s.statusOffline && s.status
      ? [k(s.charges), ms(s.statusOffline.wallMs), mib(s.statusOffline.rssMiB), ms(s.status.wallMs), mib(s.status.rssMiB), String(s.status.stripeRequests)]
      : [k(s.charges), na, "n/a", "n/a", "n/a", "n/a"])),
  ));

  out.push(`\n## Webhook latency (paidup serve; POST start → fake Resend recorded the send); serve peak RSS ${mib(hooks.serveRssMiB)} MiB, CPU ${ms(hooks.serveCpuMs)} ms`, table(
    ["case", "events", "200 ack median ms", "ack p99 ms", "latency median ms", "p99 ms", "max ms", "first→last send s", "Stripe req/event", "Resend req/event"],
    hooks.cases.map((c) => [
      c.label, String(c.events), ms(c.ackMedianMs), ms(c.ackP99Ms), ms(c.latencyMedianMs), ms(c.latencyP99Ms), ms(c.latencyMaxMs), (c.sendSpanMs / 1000).toFixed(1),
      c.stripeRequestsPerEvent.toFixed(2), c.resendRequestsPerEvent.toFixed(2),
    ]),
  ));
  return { text: out.join("\n"), misses };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const began = Date.now();
  const log = (line: string) => process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
  const probe = await Workspace.start("probe");
  const hasStatus = await statusRegistered(probe).finally(() => probe.close());
  log(`sizes ${args.sizes.join(", ")}; status ${hasStatus ? "registered" : "not registered: n/a"}`);

  const wants = (section: string) => args.only === null || args.only.includes(section);
  let ratios: StartupRatios | null = null;
  const ratiosLoad: [string, string] = ["", ""];
  if (wants("startup")) {
    log("start-up beside node -e 0");
    ratiosLoad[0] = load();
    ratios = await startupRatios(args.startupRounds);
    ratiosLoad[1] = load();
  }
  const pacing: PacingCell[] = [];
  if (wants("pacing")) await pacingCells(args, pacing, log);
  if (args.only !== null) {
    const misses: string[] = [];
    const check: Check = (ok, what) => (ok ? "met" : (misses.push(what), "MISSED"));
    const text = pacingAndStartup(args, { pacing, ratios, ratiosLoad }, check).join("\n");
    process.stdout.write(`# paidup bench --only ${args.only.join(",")}, ${new Date().toISOString()} (${((Date.now() - began) / 1000).toFixed(0)} s), load average now ${load()}\n\n${text}\n\n` +
      (misses.length ? `Targets missed: ${misses.join("; ")}\n` : "All targets met.\n"));
    fs.writeFileSync(path.join(__dirname, "last-run-pacing.json"), JSON.stringify({ args, machine: machine(), ratios, ratiosLoad, pacing }, null, 2));
    return;
  }
  log("start-up");
  const start = await startup(Math.max(args.reps, 5));
  log("CPU floor of the two durable commits");
  const commitsCpuMsPerCharge = await commitFloor(1000);
  const sizes: SizeFigures[] = [];
  for (const n of args.sizes) {
    log(`history of ${n} delivered charges`);
    sizes.push(await sizeScenario(n, { reps: args.reps, maxFullPass: 10_000, withStatus: hasStatus, cpuProfile: args.cpuProfile, log }));
  }
  log(`webhooks: ${args.burst} back to back, then ${args.lowRate} at one per 50 ms`);
  const hooks = await webhookLatency(args.burst, args.lowRate, 50);

  const { text, misses } = report(args, start, sizes, hooks, hasStatus, { pacing, ratios, ratiosLoad, commitsCpuMsPerCharge });
  const header = [
    `# paidup bench, ${new Date().toISOString()} (${((Date.now() - began) / 1000).toFixed(0)} s)`,
    "",
    ...machine().map((l) => (l.startsWith("    ") ? l : `- ${l}`)),
    "",
    "Ledgers of 1k and 10k are built by a real first pass; larger ones by `paidup init` and then rows",
    "seeded directly with better-sqlite3 in one transaction (same schema, delivered + one attempt each).",
    "",
  ];
  process.stdout.write(header.join("\n") + text + "\n\n" + (misses.length ? `Targets missed: ${misses.join("; ")}\n` : "All targets met.\n"));
  fs.writeFileSync(path.join(__dirname, "last-run.json"), JSON.stringify({ args, machine: machine(), start, ratios, commitsCpuMsPerCharge, pacing, sizes, hooks, hasStatus }, null, 2));
}

/**
 * The pacing cells: one mode and allowance at a time, its four latencies side by side (13 CLIs
 * at once on 2 cores would measure the machine's timer jitter more than the pacer); then the
 * passes at once, in each mode.
 */
async function pacingCells(args: Args, pacing: PacingCell[], log: (line: string) => void): Promise<void> {
  for (const mode of MODES) {
    for (const a of ALLOWED) {
      log(`pacing (${modeName(mode)}): ${a}/s allowed, ${LATENCIES.join(", ")} ms side by side, ${args.pacingCharges} charges each; load ${load()}`);
      pacing.push(...(await Promise.all(LATENCIES.map((lat) => pacingCell(lat, a, args.pacingCharges, 1, mode)))));
    }
  }
  for (const mode of MODES) {
    log(`pacing (${modeName(mode)}): ${SHARED.passes} passes at once on ${args.sharedCharges} charges; load ${load()}`);
    pacing.push(await pacingCell(SHARED.latencyMs, SHARED.allowed, args.sharedCharges, SHARED.passes, mode));
  }
}

/** CPU per charge of claim + commitDelivered alone, in a process of its own (bench/commit-floor.ts). */
async function commitFloor(n: number): Promise<number> {
  const ws = await Workspace.start("commit-floor");
  try {
    const m = await ws.runOk([], { script: path.join(__dirname, "commit-floor.js"), env: { COMMIT_FLOOR_N: String(n) } });
    const out = JSON.parse(m.stdout) as { charges: number; cpuMs: number };
    return out.cpuMs / out.charges;
  } finally {
    await ws.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
