import { execSync } from "node:child_process";
import Database from "better-sqlite3";
import { writeAnnouncement } from "../test/helpers/announce-shop";
import { Shop } from "../test/helpers/shop";

// "announce 10,000": `paidup announce` to 10,000 past buyers through the real CLI, against the
// fake Resend allowing 5 requests a second with 100 ms of latency per request (FACTS.md: the
// default allowance). The buyers are seeded as delivered charges straight into the SQLite
// ledger (delivering 10,000 first would take half an hour at 5/s and measure something else).
// Target: under 60 s. Run: npm run build && node dist/bench/announce.js

const N = Number(process.env.BENCH_ANNOUNCE_N ?? 10_000);
const RATE = Number(process.env.BENCH_ANNOUNCE_RATE ?? 5);
const LATENCY = Number(process.env.BENCH_ANNOUNCE_LATENCY_MS ?? 100);

function seed(dbPath: string): void {
  const db = new Database(dbPath);
  const now = Date.now();
  const charge = db.prepare(`INSERT INTO charges (id, state, created, amount, currency, email, name, product, email_id, state_since, updated_at)
    VALUES (?, 'delivered', ?, 4900, 'usd', ?, ?, 'ship-fast', ?, ?, ?)`);
  const delivery = db.prepare(`INSERT INTO deliveries (charge_id, product, position, send_key, state, email_id, state_since, updated_at)
    VALUES (?, 'ship-fast', 0, ?, 'delivered', ?, ?, ?)`);
  db.transaction(() => {
    for (let i = 0; i < N; i++) {
      const id = `ch_bench_${String(i).padStart(6, "0")}`;
      charge.run(id, Math.floor(now / 1000) - N + i, `buyer${i}@example.com`, `Buyer ${i}`, `em_${i}`, now, now);
      delivery.run(id, `paidup-${id}`, `em_${i}`, now, now);
    }
  })();
  db.close();
}

async function main(): Promise<void> {
  const shop = await Shop.start({ config: { publicUrl: "https://shop.example.com", resend: { maxPerSecond: RATE } }, resendRate: RATE, resendLatencyMs: LATENCY, backend: "sqlite" });
  try {
    const init = await shop.run(["init"]);
    if (init.code !== 0) throw new Error(init.stderr);
    seed(shop.dbPath);
    const files = writeAnnouncement(shop, "bench", "Hi {{name}}, v2 of {{product}} is out.\nUnsubscribe: {{unsubscribe}}\n");
    const loadBefore = execSync("uptime").toString().trim();
    const started = process.hrtime.bigint();
    const r = await shop.run(["announce", "ship-fast", "--subject", "{{product}} v2", "--text", files.text, "--json"]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const loadAfter = execSync("uptime").toString().trim();
    if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
    const json = JSON.parse(r.stdout) as { sent: number };
    const perAddress = new Map<string, number>();
    for (const e of shop.resend.sent) perAddress.set(String(e.to[0]), (perAddress.get(String(e.to[0])) ?? 0) + 1);
    const twice = [...perAddress.values()].filter((n) => n > 1).length;
    const requests = shop.resend.requestCount({ method: "POST", path: "/emails/batch" });
    const limited = shop.resend.requests.filter((q) => q.path === "/emails/batch" && q.status === 429).length;
    console.log(`| announce ${N.toLocaleString("en-US")} | ${RATE}/s, ${LATENCY} ms | ${seconds.toFixed(1)} s | ${json.sent} | ${perAddress.size} | ${twice} | ${requests} | ${limited} | ${seconds < 60 ? "met" : "MISSED"} |`);
    console.log(`uptime before: ${loadBefore}`);
    console.log(`uptime after:  ${loadAfter}`);
  } finally {
    await shop.close();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
