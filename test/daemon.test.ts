import assert from "node:assert/strict";
import fs from "node:fs";
import { after, test } from "node:test";
import { cronScheduler, Scheduler, startDaemon } from "../src/pass/daemon";
import type { Logger } from "../src/log";
import { paidCharge, Shop, SQLITE_ONLY } from "./helpers/shop";
import { PATIENCE_MS, waitFor } from "./helpers/wait";

// The daemon only decides when a pass runs. Unit tests drive its ticks by hand; one test runs
// node-cron for real (FACTS.md: its noOverlap has had bugs), and one runs the real process.

interface Logged { level: string; message: string; meta?: unknown }

function recorder(): { log: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (message: string, meta?: unknown) => void lines.push({ level, message, meta });
  return { log: { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") } as unknown as Logger, lines };
}

/** A scheduler whose ticks the test fires; `tick()` resolves when the daemon's handler returns. */
function manualScheduler() {
  let fire: (() => Promise<void>) | null = null;
  let stopped = false;
  const scheduler: Scheduler = {
    schedule(_expr, tick) {
      fire = tick;
      return { stop: () => void (stopped = true) };
    },
  };
  return { scheduler, tick: () => (stopped || !fire ? Promise.resolve() : fire()), get stopped() { return stopped; } };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test("a tick that comes while a pass is running is skipped, and the tick after it ends runs a pass", async () => {
  const clock = manualScheduler();
  const first = deferred();
  let calls = 0;
  const daemon = startDaemon({ scheduler: clock.scheduler, log: recorder().log, pass: async () => (++calls === 1 ? first.promise : undefined) });
  const tick1 = clock.tick();
  await clock.tick();
  assert.equal(calls, 1, "no second pass while the first runs");
  first.resolve();
  await tick1;
  await clock.tick();
  assert.equal(calls, 2, "the next tick after the first pass ended ran a pass");
  await daemon.stop();
});

test("a pass that throws is logged and the daemon runs the next tick", async () => {
  const clock = manualScheduler();
  const { log, lines } = recorder();
  let calls = 0;
  const daemon = startDaemon({ scheduler: clock.scheduler, log, pass: async () => {
    if (++calls === 1) throw new Error("Stripe unreachable for sk_test_SecretInTheMessage123");
  } });
  await clock.tick();
  await clock.tick();
  assert.equal(calls, 2);
  const failure = lines.find((l) => l.level === "error");
  assert.equal(failure?.message, "pass failed; waiting for the next tick");
  assert.doesNotMatch(JSON.stringify(failure?.meta), /SecretInTheMessage/);
  await daemon.stop();
});

test("stop() stops the schedule, aborts the running pass's signal and waits for the pass to finish", async () => {
  const clock = manualScheduler();
  const inFlight = deferred();
  let seen: AbortSignal | undefined;
  let finished = false;
  const daemon = startDaemon({ scheduler: clock.scheduler, log: recorder().log, pass: async (signal) => {
    seen = signal;
    await inFlight.promise;
    finished = true;
  } });
  void clock.tick();
  const stopping = daemon.stop();
  assert.equal(clock.stopped, true);
  await Promise.resolve();
  assert.equal(seen?.aborted, true, "the pass was told to stop before its next claim");
  let stopResolved = false;
  void stopping.then(() => (stopResolved = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(stopResolved, false, "stop() waits for the send in flight");
  inFlight.resolve();
  await stopping;
  assert.equal(finished, true);
  await clock.tick();
  assert.equal(daemon.passes, 1, "no pass starts after stop()");
});

test("with node-cron for real, a second tick runs after a long first pass ends", async () => {
  const { log } = recorder();
  const starts: number[] = [];
  const daemon = startDaemon({ schedule: "* * * * * *", scheduler: cronScheduler(log), log, pass: async () => {
    starts.push(Date.now());
    // The first pass spans more than one tick; node-cron must not stay blocked after it.
    if (starts.length === 1) await new Promise((r) => setTimeout(r, 1300));
  } });
  await waitFor("a second pass starts", () => starts.length >= 2).catch(() => undefined);
  await daemon.stop();
  assert.ok(starts.length >= 2, `a second pass ran (passes: ${starts.length})`);
  assert.ok((starts[1] as number) - (starts[0] as number) >= 1300, "and only after the first ended");
});

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function until(what: string, cond: () => boolean, ms = PATIENCE_MS): Promise<void> {
  await waitFor(what, cond, { ms, every: 25 });
}

test("the daemon delivers on its schedule, and SIGTERM mid-send lets the send finish, records it delivered and exits 0", async () => {
  const shop = await Shop.start();
  shops.push(shop);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  const now = Math.floor(Date.now() / 1000);
  const first = shop.stripe.addCharge(paidCharge({ created: now - 30 }));
  let pid = 0;
  const daemon = shop.run(["daemon", "--schedule", "* * * * * *"], { env: { LOG_LEVEL: "info" }, onSpawn: (p) => (pid = p) });
  await until("the first charge is delivered", () => shop.resend.sendsByKey().get(`paidup-${first.id}`) === 1);

  shop.resend.addFault({ kind: "delay", ms: 1500, path: "/emails" });
  const second = shop.stripe.addCharge(paidCharge({ created: now - 20, billing_details: { email: "inflight@example.com" } }));
  await until("the second send is in flight", () => shop.resend.requests.some((r) => r.idempotencyKey === `paidup-${second.id}`));
  process.kill(pid, "SIGTERM");
  const r = await daemon;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /SIGTERM received/);
  assert.match(r.stderr, /daemon stopped cleanly/);
  assert.equal(shop.row(second.id)?.state, "delivered", "the send in flight was completed and recorded");
  assert.ok(shop.row(second.id)?.email_id);
  const sends = shop.resend.sendsByKey();
  assert.equal(sends.get(`paidup-${first.id}`), 1);
  assert.equal(sends.get(`paidup-${second.id}`), 1, "nothing sent twice");
  const status = JSON.parse((await shop.run(["status", "--json"])).stdout);
  assert.equal(status.ok, true, "the daemon's passes recorded their heartbeat");
});

test("the daemon refuses to start, exit 2, when a check fails or the schedule is not cron", async () => {
  const shop = await Shop.start();
  shops.push(shop);
  await shop.run(["init"]);
  const badKey = await shop.run(["daemon"], { env: { RESEND_API_KEY: "re_NotTheRightKey_42" } });
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /the daemon did not start/);
  assert.match(badKey.stderr, /✗ resend key: Resend rejected RESEND_API_KEY/);
  const badSchedule = await shop.run(["daemon", "--schedule", "every minute"]);
  assert.equal(badSchedule.code, 2);
  assert.match(badSchedule.stderr, /is not a cron expression/);
});

test("the daemon starts anyway when Stripe is unreachable at boot: every pass retries it", async () => {
  const shop = await Shop.start();
  shops.push(shop);
  await shop.run(["init"]);
  let pid = 0;
  const live = { stdout: "", stderr: "" };
  const daemon = shop.run(["daemon"], { env: { STRIPE_API_BASE: "http://127.0.0.1:1", LOG_LEVEL: "info" }, onSpawn: (p) => (pid = p), live });
  // Stopped once it says it started (not on a fixed timer, which a busy machine can beat).
  await waitFor("the daemon starts despite Stripe", () => /daemon started/.test(live.stderr), { detail: () => live.stderr });
  process.kill(pid, "SIGTERM");
  const r = await daemon;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /check failed: stripe key: Stripe unreachable/);
  assert.match(r.stderr, /daemon started/);
});

test("a pass longer than the schedule logs no warning per tick, only one line that ticks are skipped", async () => {
  const shop = await Shop.start();
  shops.push(shop);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  const c = shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 10 }));
  // The send takes several ticks of a once-a-second schedule.
  shop.resend.addFault({ kind: "delay", ms: 3500, path: "/emails" });
  let pid = 0;
  const daemon = shop.run(["daemon", "--schedule", "* * * * * *"], { env: { LOG_LEVEL: "info" }, onSpawn: (p) => (pid = p) });
  await until("the slow send is delivered", () => shop.resend.sendsByKey().get(`paidup-${c.id}`) === 1);
  await until("the ledger records it", () => shop.row(c.id)?.state === "delivered");
  process.kill(pid, "SIGTERM");
  const r = await daemon;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /task still running|overlap prevention/);
  assert.doesNotMatch(r.stderr, / warn /, "no warnings at all");
  assert.ok((r.stderr.match(/still running/g) ?? []).length <= 1, r.stderr);
});

test("the daemon stops with exit 3 when its ledger file is deleted under it, and delivers nothing into the old file", { skip: SQLITE_ONLY }, async () => {
  const shop = await Shop.start();
  shops.push(shop);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  const now = Math.floor(Date.now() / 1000);
  const first = shop.stripe.addCharge(paidCharge({ created: now - 30 }));
  let pid = 0;
  const daemon = shop.run(["daemon", "--schedule", "* * * * * *"], { onSpawn: (p) => (pid = p) });
  await until("the first charge is delivered", () => shop.resend.sendsByKey().get(`paidup-${first.id}`) === 1);
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(shop.dbPath + suffix, { force: true });
  const second = shop.stripe.addCharge(paidCharge({ created: now - 20, billing_details: { email: "after-rm@example.com" } }));
  // Only a safety net against a daemon that never notices (the test then fails on exit 0).
  const stopper = setTimeout(() => pid && process.kill(pid, "SIGTERM"), PATIENCE_MS);
  const r = await daemon;
  clearTimeout(stopper);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /paidup: ledger .*paidup\.db was deleted while paidup had it open; stopping so that nothing more is recorded into the old file/);
  assert.match(r.stderr, /hint: restore the ledger/);
  assert.equal(shop.resend.sentTo("after-rm@example.com").length, 0, `${second.id} was not sent by a pass writing into a deleted ledger`);
});
