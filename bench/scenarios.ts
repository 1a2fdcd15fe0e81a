import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { OUTCOME, STATE } from "../src/states";
import { BIN, Measured, medianRun, paidCharge, Workspace } from "./harness";

// The measured scenarios. Every paidup figure comes from the real CLI run as a subprocess.

const NAIVE = path.join(__dirname, "naive-poller.js");
const FLOOR = path.join(__dirname, "http-floor.js");
/** History ends this long before the bench starts: outside the pass's 120 s re-listing overlap. */
const HISTORY_ENDS_AGO_S = 600;
/** The config's resend.maxPerSecond (harness.ts), the most the config allows. */
const PACED_PER_SECOND = 100;

export interface SizeFigures {
  charges: number;
  builtBy: "first full pass" | "rows seeded with better-sqlite3";
  firstPass?: Measured;
  floor?: Measured;
  steady: Measured;
  naive: Measured;
  after100: Measured;
  after100Sent: number;
  statusOffline?: Measured;
  status?: Measured;
  cpuProfileDir?: string;
}

export interface StartupFigures {
  version: Measured;
  versionWalls: number[];
  emptyPass: Measured;
}

/**
 * Whether `status` is wired into the CLI yet. Its exit code alone does not tell: commander
 * answers `paidup status --help` for an unknown command with the program's help and exit 0.
 */
export async function statusRegistered(ws: Workspace): Promise<boolean> {
  const m = await ws.run(["status", "--help"], { script: BIN });
  return m.code === 0 && /Usage: paidup status/.test(m.stdout);
}

export async function startup(reps: number): Promise<StartupFigures> {
  const ws = await Workspace.start("startup");
  try {
    const version = await medianRun(reps, () => ws.runOk(["--version"]));
    await ws.runOk(["init"]);
    const emptyPass = await medianRun(reps, () => ws.runOk(["reconcile"]));
    return { version, versionWalls: version.wallMsAll, emptyPass };
  } finally {
    await ws.close();
  }
}

/**
 * The 100k ledger: `paidup init` makes the real schema, then one transaction writes a delivered
 * row (with a stored payload, as a real send leaves it) and its attempt for every charge, and
 * moves the watermark (and the last 72 h re-list) to now, as the last pass over that history would have.
 */
export function seedDelivered(ws: Workspace, ids: { id: string; created: number; email: string }[]): void {
  const db = new Database(ws.dbPath);
  try {
    const now = Date.now();
    const row = db.prepare(
      `INSERT INTO charges (id, state, created, amount, currency, email, name, product, attempts, first_sent_at, payload, email_id, state_since, updated_at)
       VALUES (?, '${STATE.delivered}', ?, 4900, 'usd', ?, ?, 'ship-fast', 1, ?, ?, ?, ?, ?)`,
    );
    const attempt = db.prepare(`INSERT INTO attempts (charge_id, at, outcome, email_id) VALUES (?, ?, '${OUTCOME.delivered}', ?)`);
    const zip = path.join(ws.dir, "products", "ship-fast.zip");
    db.transaction(() => {
      for (const [i, c] of ids.entries()) {
        const payload = JSON.stringify({
          from: "Shop <shop@example.com>", to: c.email, replyTo: "help@example.com", subject: "Your Ship Fast Skill Pack",
          text: `Hi Buyer ${i}, here is Ship Fast Skill Pack for $49.00. Ref ${c.id}.\n`,
          attachments: [{ filename: "ship-fast.zip", path: zip, size: 2048, sha256: "0".repeat(64) }],
        });
        const emailId = `seeded-${i}`;
        row.run(c.id, c.created, c.email, `Buyer ${i}`, now, payload, emailId, now, now);
        attempt.run(c.id, now, emailId);
      }
      db.prepare("UPDATE meta SET value = ? WHERE key = 'watermark'").run(String(Math.floor(now / 1000)));
      // ... and its hourly 72 h re-list: the steady pass measured next is an ordinary one.
      db.prepare("INSERT INTO meta (key, value) VALUES ('relisted_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(Math.floor(now / 1000)));
    })();
  } finally {
    db.close();
  }
}

export interface SizeOptions {
  reps: number;
  /** Charges at or below this count are delivered by a real first pass; above, seeded. */
  maxFullPass: number;
  withStatus: boolean;
  cpuProfile: boolean;
  log: (line: string) => void;
}

export async function sizeScenario(n: number, opts: SizeOptions): Promise<SizeFigures> {
  const ws = await Workspace.start(`n${n}`);
  try {
    const end = Math.floor(Date.now() / 1000) - HISTORY_ENDS_AGO_S;
    // One charge a second, the oldest first: a long history, none of it in the re-listing window.
    ws.stripe.bulkAddCharges(n, (i) => paidCharge(i, end - (n - 1 - i)));
    const startLine = end - n - 60;
    await ws.runOk(["init", "--since", new Date(startLine * 1000).toISOString()]);
    const charges = ws.stripe.charges();
    const figures: Partial<SizeFigures> = { charges: n };

    if (n <= opts.maxFullPass) {
      figures.builtBy = "first full pass";
      opts.log(`  ${n}: first full delivery pass (paced at 100/s: about ${Math.ceil(n / 100)} s)`);
      const profDir = path.join(ws.dir, "..", `paidup-bench-prof-${n}-${process.pid}`);
      const nodeArgs = opts.cpuProfile ? ["--cpu-prof", "--cpu-prof-dir", profDir] : [];
      figures.firstPass = await ws.runOk(["reconcile"], { nodeArgs });
      if (opts.cpuProfile) figures.cpuProfileDir = profDir;
      if (ws.resend.sent.length !== n) throw new Error(`first pass sent ${ws.resend.sent.length} of ${n}`);
      opts.log(`  ${n}: HTTP floor (same requests, same SDKs, same 10 ms spacing, no paidup)`);
      const floorEnv = { FLOOR_GTE: String(startLine), FLOOR_ATTACHMENT: path.join(ws.dir, "products", "ship-fast.zip"), FLOOR_INTERVAL_MS: String(1000 / PACED_PER_SECOND) };
      figures.floor = await ws.runOk([], { script: FLOOR, env: floorEnv });
    } else {
      figures.builtBy = "rows seeded with better-sqlite3";
      opts.log(`  ${n}: seeding ${n} delivered rows in one transaction`);
      seedDelivered(ws, charges.map((c) => ({ id: c.id, created: c.created, email: c.billing_details.email ?? "" })));
    }

    opts.log(`  ${n}: steady-state passes`);
    figures.steady = await medianRun(opts.reps, () => ws.runOk(["reconcile"]));
    if (!/seen 0,/.test(figures.steady.stdout)) throw new Error(`steady pass saw charges: ${figures.steady.stdout}`);

    opts.log(`  ${n}: naive poller`);
    const processed = path.join(ws.dir, "processed.json");
    fs.writeFileSync(processed, JSON.stringify(charges.map((c) => c.id)));
    figures.naive = await medianRun(opts.reps, () => ws.runOk([], { script: NAIVE, env: { NAIVE_PROCESSED: processed } }));

    if (opts.withStatus) {
      opts.log(`  ${n}: status --offline and status`);
      // status exits 1 when something is stuck or no pass was recorded (the seeded ledger).
      figures.statusOffline = await medianRun(opts.reps, () => ws.runOk(["status", "--offline"], { allow: [1] }));
      figures.status = await medianRun(opts.reps, () => ws.runOk(["status"], { allow: [1] }));
    }

    opts.log(`  ${n}: a pass after 100 new charges`);
    const now = Math.floor(Date.now() / 1000);
    ws.stripe.bulkAddCharges(100, (i) => paidCharge(n + i, now - 30 + Math.floor(i * 0.3)));
    const sentBefore = ws.resend.sent.length;
    figures.after100 = await ws.runOk(["reconcile"]);
    figures.after100Sent = ws.resend.sent.length - sentBefore;
    return figures as SizeFigures;
  } finally {
    await ws.close();
  }
}
