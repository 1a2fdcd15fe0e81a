import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { after, afterEach, before, test } from "node:test";
import Database from "better-sqlite3";
import { paidCharge, Shop, SQLITE_ONLY } from "./helpers/shop";
import { waitFor } from "./helpers/wait";

// Real CLI processes killed at random moments and run side by side on one ledger. Whatever
// happens, every charge ends delivered with exactly one real email.

let shop: Shop;
before(async () => {
  // Retries due after 1 s, so the passes after the kills need not wait a minute. 25 sends a
  // second: a pass over 200 charges takes about 8 s, so a kill 0.5–2 s in always lands
  // mid-pass (at the suite's usual 100/s the send pool finished a pass before the kill).
  shop = await Shop.start({ config: { retry: { maxAttempts: 20, delays: ["1s"] }, resend: { maxPerSecond: 25 } } });
});
after(async () => shop.close());
// A test that fails before its own clearFaults() must not hand its faults on: the SIGKILL test's
// endless 40 ms delay, left first in the queue, took the next test's "hang" (its send went
// through: one email where none was expected, on either backend).
afterEach(() => {
  shop.resend.clearFaults();
  shop.stripe.clearFaults();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Simulates the 5-minute lease running out: what a later pass finds after a crash. */
function expireLeases(): number {
  // Each product's delivery holds its own lease; the charge row mirrors the earliest one.
  shop.exec("UPDATE deliveries SET lease_until = 0 WHERE state = 'sending'");
  return shop.exec("UPDATE charges SET lease_until = 0 WHERE state = 'sending'");
}

function keysWithPrefix(prefix: string): number[] {
  return [...shop.resend.sendsByKey().entries()].filter(([k]) => k.startsWith(`paidup-${prefix}`)).map(([, n]) => n);
}

test("200 charges survive 6 SIGKILLs of real passes mid-send: each ends delivered with exactly one email", async () => {
  const n = 200;
  const start = Math.floor(Date.now() / 1000) - 300;
  shop.stripe.bulkAddCharges(n, (i) => paidCharge({ id: `ch_crash_${String(i).padStart(4, "0")}`, created: start + i, billing_details: { email: `c${i}@example.com` } }));
  const init = await shop.run(["init", "--since", new Date(start * 1000).toISOString()]);
  assert.equal(init.code, 0, init.stderr);
  // Each send takes 40 ms at Resend, so most kills land while a send is in flight.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "delay", ms: 40, times: Infinity });

  let killed = 0;
  let caughtMidSend = 0;
  for (let k = 0; k < 6; k++) {
    let pid = 0;
    let ended = false;
    const sendsBefore = shop.resend.requestCount({ method: "POST", path: "/emails" });
    const run = shop.run(["reconcile", "--json"], { onSpawn: (p) => (pid = p) });
    void run.then(() => (ended = true), () => (ended = true));
    // Killed once it has started a random number of sends, not after a fixed time: on a busy
    // machine the process may take seconds to start, and a timer would kill it before any claim.
    const sendsIn = 1 + crypto.randomInt(25);
    await waitFor("the pass is sending", () => ended || shop.resend.requestCount({ method: "POST", path: "/emails" }) >= sendsBefore + sendsIn);
    try {
      if (pid) process.kill(pid, "SIGKILL");
    } catch (err) {
      // Already gone: the pass ended on its own before the kill; counted as not killed below.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
    const r = await run;
    if (r.signal === "SIGKILL") killed++;
    caughtMidSend += expireLeases();
  }
  assert.ok(killed >= 5, `at least 5 of the passes were killed (${killed})`);

  shop.resend.clearFaults();
  for (let i = 0; i < 10; i++) {
    const r = await shop.run(["reconcile", "--json"]);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    if (r.code === 0) break;
    await sleep(1100); // a charge left retrying (e.g. 409 "still in progress") is due after 1 s
  }
  const rows = shop.rows().filter((r) => r.id.startsWith("ch_crash_"));
  assert.equal(rows.length, n);
  assert.deepEqual(rows.filter((r) => r.state !== "delivered").map((r) => `${r.id}:${r.state}:${r.reason}`), []);
  // Counted by recipient too, so a send without (or with a wrong) idempotency key shows up.
  const perRecipient = new Map<string, number>();
  for (const e of shop.resend.sent) for (const to of e.to) if (/^c\d+@/.test(to)) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
  assert.equal(perRecipient.size, n);
  assert.deepEqual([...perRecipient.entries()].filter(([, c]) => c !== 1), [], "no buyer got two emails");
  const sends = keysWithPrefix("ch_crash_");
  assert.equal(sends.length, n, "every charge was emailed");
  assert.deepEqual(sends.filter((c) => c !== 1), [], "no charge was emailed twice");
  const emailIds = new Set(rows.map((r) => r.email_id));
  assert.equal(emailIds.size, n, "each row carries its own Resend email id");
  assert.ok(caughtMidSend > 0, "some kills landed between claim and commit");
  console.log(`# crash: ${killed} kills, ${caughtMidSend} claims found in flight, ${shop.resend.requestCount({ method: "POST", path: "/emails" })} send requests for ${n} emails`);
});

test("four passes started at once on 300 charges send each charge exactly once", async () => {
  const n = 300;
  const start = Math.floor(Date.now() / 1000) - 100;
  shop.stripe.bulkAddCharges(n, (i) => paidCharge({ id: `ch_four_${String(i).padStart(4, "0")}`, created: start + Math.floor(i / 4), billing_details: { email: `f${i}@example.com` } }));
  const runs = await Promise.all([0, 1, 2, 3].map(() => shop.run(["reconcile", "--json"])));
  for (const r of runs) assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const delivered = runs.reduce((sum, r) => sum + Number(JSON.parse(r.stdout).delivered), 0);
  assert.equal(delivered, n, "between them the passes delivered each charge once");
  const sends = keysWithPrefix("ch_four_");
  assert.equal(sends.length, n);
  assert.deepEqual(sends.filter((c) => c !== 1), [], "no charge was emailed twice");
  assert.ok(shop.rows().filter((r) => r.id.startsWith("ch_four_")).every((r) => r.state === "delivered"));
});

test("a ledger held locked by another process makes a pass exit 3 with nothing half-written", { skip: SQLITE_ONLY }, async () => {
  const start = Math.floor(Date.now() / 1000) - 20;
  shop.stripe.bulkAddCharges(5, (i) => paidCharge({ id: `ch_lock_${i}`, created: start + i, billing_details: { email: `l${i}@example.com` } }));
  assert.equal((await shop.run(["init", "--since", new Date(start * 1000).toISOString()])).code, 0);
  const holder = new Database(shop.dbPath);
  holder.pragma("busy_timeout = 1000");
  const before = holder.prepare("SELECT count(*) AS n FROM charges").get() as { n: number };
  holder.exec("BEGIN EXCLUSIVE");
  let r;
  try {
    r = await shop.run(["reconcile", "--json"]);
  } finally {
    holder.exec("COMMIT");
  }
  const after = holder.prepare("SELECT count(*) AS n FROM charges").get() as { n: number };
  holder.close();
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /ledger .* is locked by another process/);
  assert.equal(after.n, before.n, "no row was written");
  assert.deepEqual(keysWithPrefix("ch_lock_"), [], "nothing was sent while the ledger could not record it");

  const next = await shop.run(["reconcile", "--json"]);
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(keysWithPrefix("ch_lock_"), [1, 1, 1, 1, 1]);
  assert.ok(fs.existsSync(shop.dbPath));
});

test("a charge refunded after its sender was killed mid-send is not sent again and ends skipped", async () => {
  const c = shop.stripe.addCharge(paidCharge({ id: "ch_killed_then_refunded", billing_details: { email: "kr@example.com" } }));
  shop.resend.addFault({ kind: "hang", path: "/emails" });
  let pid = 0;
  const pass = shop.run(["reconcile", "--since", "10m"], { onSpawn: (p) => (pid = p) });
  await waitFor("the pass claimed the charge", () => shop.row(c.id)?.state === "sending");
  process.kill(pid, "SIGKILL");
  await pass;
  shop.stripe.updateCharge(c.id, { refunded: true, amount_refunded: c.amount });
  assert.equal(expireLeases(), 1);
  const after = await shop.run(["reconcile", "--since", "10m"]);
  assert.ok(after.code === 0 || after.code === 1, after.stderr);
  assert.equal(shop.row(c.id)?.state, "skipped");
  assert.equal(keysWithPrefix("ch_killed_then_refunded").reduce((a, b) => a + b, 0), 0, "the hung request never produced an email, and none was re-sent");
});
