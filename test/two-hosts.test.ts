import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { BACKEND, DEFAULT_PRODUCTS, paidCharge, Shop, writeShopFiles } from "./helpers/shop";
import { waitFor } from "./helpers/wait";

// Two hosts that share nothing but the PostgreSQL ledger: each its own working directory,
// config, templates, product files and (unused) SQLite path. Passes on both at once, some
// killed mid-send; every charge still gets exactly one email.

const skip = BACKEND === "postgres" ? false : "needs the postgres backend (npm test runs it in the postgres pass)";

let shop: Shop;
let hostB: string;
before(async () => {
  if (skip) return;
  const config = { retry: { maxAttempts: 20, delays: ["1s"] } };
  shop = await Shop.start({ config });
  hostB = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-host-b-"));
  writeShopFiles(hostB);
  fs.writeFileSync(path.join(hostB, "paidup.config.json"), JSON.stringify({ from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS, ...config }));
});
after(async () => {
  await shop?.close();
  if (hostB) fs.rmSync(hostB, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pass on host A (the shop's folder) or host B (its own folder, nothing shared but the URL). */
function pass(host: "A" | "B", onSpawn?: (pid: number) => void) {
  const b = { cwd: hostB, env: { HOME: hostB, PAIDUP_CONFIG: path.join(hostB, "paidup.config.json"), PAIDUP_DB: path.join(hostB, "state", "b.db") } };
  return shop.run(["reconcile", "--json"], { onSpawn, ...(host === "B" ? b : {}) });
}

test("two hosts sharing only the database, 4 passes at once on 300 charges with SIGKILLs: each charge emailed exactly once", { skip }, async () => {
  const n = 300;
  const start = Math.floor(Date.now() / 1000) - 400;
  const id = (i: number) => `ch_hosts_${String(i).padStart(4, "0")}`;
  const init = await shop.run(["init", "--since", new Date(start * 1000).toISOString()]);
  assert.equal(init.code, 0, init.stderr);
  // Sends take 40 ms at Resend, so kills land while sends are in flight.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "delay", ms: 40, times: Infinity });

  let killed = 0;
  let caughtMidSend = 0;
  for (let round = 0; round < 3; round++) {
    // 100 new charges a round, so every round's passes have sends to be killed in.
    // Created just now, as a live shop's are: inside the listing window of every pass.
    const now = Math.floor(Date.now() / 1000);
    shop.stripe.bulkAddCharges(n / 3, (i) => {
      const k = round * (n / 3) + i;
      return paidCharge({ id: id(k), created: now - 40 + Math.floor(i / 4), billing_details: { email: `h${k}@example.com` } });
    });
    const pids: number[] = [];
    const sendsBefore = shop.resend.requestCount({ method: "POST", path: "/emails" });
    const runs = (["A", "B", "A", "B"] as const).map((h) => pass(h, (pid) => pids.push(pid)));
    // Kill once sends are under way (start-up time varies with the machine's load), at a random moment.
    await waitFor("the passes are sending", () => shop.resend.requestCount({ method: "POST", path: "/emails" }) >= sendsBefore + 5);
    await sleep(crypto.randomInt(300));
    // One pass on each host dies mid-pass; the other two carry on beside them.
    for (const pid of [pids[0], pids[1]]) {
      try {
        if (pid) process.kill(pid, "SIGKILL");
      } catch {
        // That pass had already finished: the others still ran beside it.
      }
    }
    const results = await Promise.all(runs);
    killed += results.filter((r) => r.signal === "SIGKILL").length;
    for (const r of results) if (r.signal === null) assert.ok(r.code === 0 || r.code === 1, r.stderr);
    // What a later pass finds once the dead hosts' 5-minute leases have run out.
    // Each product's delivery holds its own lease beside the charge's: both run out.
    shop.exec("UPDATE deliveries SET lease_until = 0 WHERE state = 'sending'");
    caughtMidSend += shop.exec("UPDATE charges SET lease_until = 0 WHERE state = 'sending'");
  }
  assert.ok(killed >= 4, `passes were killed (${killed})`);

  shop.resend.clearFaults();
  for (let i = 0; i < 10; i++) {
    const [a, b] = await Promise.all([pass("A"), pass("B")]);
    assert.ok(a.code === 0 || a.code === 1, a.stderr);
    assert.ok(b.code === 0 || b.code === 1, b.stderr);
    if (a.code === 0 && b.code === 0) break;
    await sleep(1100); // a charge left retrying (409 "still in progress") is due after 1 s
  }
  const rows = shop.rows().filter((r) => r.id.startsWith("ch_hosts_"));
  assert.equal(rows.length, n);
  assert.deepEqual(rows.filter((r) => r.state !== "delivered").map((r) => `${r.id}:${r.state}:${r.reason}`), []);
  const perRecipient = new Map<string, number>();
  for (const e of shop.resend.sent) for (const to of e.to) if (/^h\d+@/.test(to)) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
  assert.equal(perRecipient.size, n, "every buyer got an email");
  assert.deepEqual([...perRecipient.entries()].filter(([, c]) => c !== 1), [], "no buyer got two emails");
  const sends = [...shop.resend.sendsByKey().entries()].filter(([k]) => k.startsWith("paidup-ch_hosts_"));
  assert.equal(sends.length, n);
  assert.deepEqual(sends.filter(([, c]) => c !== 1), [], "no charge was emailed twice");
  console.log(`# two hosts: ${killed} kills, ${caughtMidSend} claims found in flight, ${shop.resend.requestCount({ method: "POST", path: "/emails" })} send requests for ${n} emails`);
});
