import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLedger } from "../src/ledger";

// The CPU floor of the two durable commits a delivered charge costs (the claim before the send,
// the delivery after it), through paidup's own ledger on a fresh SQLite file: what stays when
// everything else is gone. Prints {"charges", "cpuMs"} for the loop alone (start-up excluded).

async function main(): Promise<void> {
  const n = Number(process.env.COMMIT_FLOOR_N ?? 1000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-commit-floor-"));
  try {
    const { ledger } = await createLedger({ dbPath: path.join(dir, "floor.db") });
    const payload = JSON.stringify({ from: "Shop <shop@example.com>", to: "buyer@example.com", subject: "Yours", text: "Hi", attachments: [] });
    const now = Date.now();
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const id = `ch_floor_${i}`;
      await ledger.claim({ id, created: Math.floor(now / 1000), amount: 4900, currency: "usd", email: "buyer@example.com", name: "B", product: "ship-fast" }, [{ product: "ship-fast", payload }], "floor", now + i);
      await ledger.commitDelivered(id, "ship-fast", `email_${i}`, now + i);
    }
    const used = process.cpuUsage(before);
    await ledger.close();
    process.stdout.write(JSON.stringify({ charges: n, cpuMs: (used.user + used.system) / 1000 }) + "\n");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
