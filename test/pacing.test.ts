import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../src/clock";
import { Pacer } from "../src/delivery/pacer";
import { SendPool } from "../src/pass/send-pool";
import { STATE } from "../src/states";
import { dailyQuotaFault } from "./fakes/fake-resend";
import { FIXED_FRACTIONAL, modeName, RATE_MODES, RESEND_LIKE, SLIDING_FRACTIONAL, type RateMode } from "./fakes/rate-window";
import { simulate, VirtualClock } from "./helpers/pacing-sim";
import { inProcess, InProcess, SettlingClock } from "./helpers/in-process";
import { paidCharge, Shop, ShopOptions } from "./helpers/shop";

// Sends in flight at once, paced by Resend's headers. Nothing here is timed: counts per second
// are taken on the injected clock, which the fake Resend's rate window shares, or on the virtual
// clock of test/helpers/pacing-sim.ts (paidup's Mailer, Pacer and SendPool against the fake's
// own RateWindow, with latency). Both fake modes: Resend's own (a sliding second, reset in whole
// seconds) and a fixed window with reset to the millisecond; the figures over real HTTP are in
// bench/RESULTS.md.

/** The fake's modes every pacing promise is checked against. */
const MODES: RateMode[] = [RESEND_LIKE, FIXED_FRACTIONAL];

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const T0 = Date.UTC(2026, 10, 24, 12, 0, 0);

interface Setup {
  shop: Shop;
  p: InProcess;
  ids: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A shop with `n` paid charges and an in-process pass whose clock the fake Resend's rate window
 * shares. `settle`: time moves on only once every request started has been answered (exact
 * counts per second); without it, the pacer's waits are free and sends overlap in real time.
 */
async function setup(n: number, shopOpts: ShopOptions, maxPerSecond: number, settle = true): Promise<Setup> {
  const started = { sends: () => 0 };
  const settled = () => shop.resend.inFlightCount === 0 && shop.resend.requestCount({ method: "POST", path: "/emails" }) >= started.sends();
  const clock: ManualClock = settle ? new SettlingClock(T0, settled) : new ManualClock(T0);
  const shop = await Shop.start({ resendRateNow: () => clock.now(), ...shopOpts });
  const created = Math.floor(T0 / 1000) - 60;
  const ids = Array.from({ length: n }, (_, i) => `ch_pace_${String(i).padStart(3, "0")}`);
  for (const [i, id] of ids.entries()) shop.stripe.addCharge(paidCharge({ id, created, billing_details: { email: `p${i}@example.com`, name: "P" } }));
  const p = await inProcess(shop, { clock, startLine: created - 1, maxPerSecond });
  started.sends = () => p.mailer.requests;
  return { shop, p, ids, [Symbol.asyncDispose]: async () => (await p.close(), await shop.close()) };
}

async function assertDeliveredOnce(s: Setup): Promise<void> {
  for (const id of s.ids) assert.equal((await s.p.row(id))?.state, STATE.delivered, `${id} delivered`);
  const sends = s.shop.resend.sendsByKey();
  assert.equal(sends.size, s.ids.length);
  assert.ok([...sends.values()].every((n) => n === 1), "each charge emailed once");
}

test("the pool keeps several sends in flight but never two sends of one charge", async () => {
  // 40 ms of latency at a ceiling of 100/s: the pool grows to ceil(100 × 0.04) + 2 = 6.
  await using s = await setup(40, { resendLatencyMs: 40 }, 100, false);
  const report = await s.p.pass();
  assert.equal(report.counts.delivered, 40);
  await assertDeliveredOnce(s);
  assert.ok(s.shop.resend.maxConcurrent > 1, `sends overlapped (peak ${s.shop.resend.maxConcurrent} in flight)`);
  assert.equal(s.shop.resend.maxConcurrentPerKey, 1, "never two requests of one idempotency key at once");
});

test("a charge handed to the pool twice is sent by the first and found delivered by the second", async () => {
  const pool = new SendPool(() => 4);
  const running = new Map<string, number>();
  let peakPerKey = 0;
  let peak = 0;
  const task = (key: string) => async () => {
    running.set(key, (running.get(key) ?? 0) + 1);
    peakPerKey = Math.max(peakPerKey, running.get(key) ?? 0);
    peak = Math.max(peak, [...running.values()].reduce((a, b) => a + b, 0));
    await new Promise((resolve) => setTimeout(resolve, 5));
    running.set(key, (running.get(key) ?? 1) - 1);
  };
  for (const key of ["a", "b", "a", "c", "a", "b", "d", "e", "f"]) await pool.add(key, task(key));
  await pool.drain();
  assert.equal(peakPerKey, 1);
  assert.ok(peak <= 4 && peak > 1, `peak ${peak}`);
});

test("the pool stops taking work after a task fails, waits for the others, and reports the failure", async () => {
  const pool = new SendPool(() => 2);
  let finished = 0;
  await pool.add("a", async () => {
    throw new Error("ledger locked");
  });
  await pool.add("b", async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    finished++;
  });
  await assert.rejects(async () => {
    for (const key of ["c", "d", "e"]) await pool.add(key, async () => void finished++);
  }, /ledger locked/);
  await assert.rejects(pool.drain(), /ledger locked/);
  assert.equal(pool.inFlight, 0);
  assert.ok(finished >= 1, "the send already started ran to its end");
});

test("sends never go over the ceiling in any second, however much Resend allows", async () => {
  await using s = await setup(30, {}, 5);
  await s.p.pass();
  await assertDeliveredOnce(s);
  assert.ok(s.shop.resend.peakPerWindow(1000) <= 5, `peak ${s.shop.resend.peakPerWindow(1000)} requests in one second`);
});

for (const mode of [...MODES, SLIDING_FRACTIONAL]) {
  test(`Resend's lower limit is followed from its headers without a 429, never over it in any second (${modeName(mode)})`, async () => {
    await using s = await setup(30, { resendRate: 3, resendRateMode: mode }, 5);
    await s.p.pass();
    await assertDeliveredOnce(s);
    assert.equal(s.shop.resend.rateLimitedCount(), 0, "no request was refused");
    assert.ok(s.shop.resend.peakPerWindow(1000) <= 3, `peak ${s.shop.resend.peakPerWindow(1000)} in one second`);
    const seconds = (s.p.clock.now() - T0) / 1000;
    assert.ok(30 / seconds > 3 * 0.9, `used the allowance: ${(30 / seconds).toFixed(2)}/s of 3/s`);
  });
}

test("a burst of 429s slows the pass down and leaves every charge delivered once, none failed", async () => {
  await using s = await setup(20, {}, 10);
  s.shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 429, times: 25 });
  const report = await s.p.pass();
  assert.equal(report.counts.delivered, 20);
  assert.equal(report.counts.retrying + report.counts.needsReview, 0);
  await assertDeliveredOnce(s);
  for (const id of s.ids) assert.equal((await s.p.row(id))?.failed_sends, 0, `${id}: a 429 is not a failed send`);
  assert.equal(s.shop.resend.rateLimitedCount(), 25);
});

test("an answer lost inside the pool is recognised by the idempotency key on the next pass", async () => {
  await using s = await setup(12, { resendLatencyMs: 20 }, 100, false);
  s.shop.resend.addFault({ method: "POST", path: "/emails", kind: "reset-after-processing", times: 3 });
  const first = await s.p.pass();
  assert.equal(first.counts.delivered, 9);
  assert.equal(first.counts.retrying, 3);
  assert.equal(s.shop.resend.sent.length, 12, "the three lost answers were emails that went");
  s.p.clock.advance(2 * 60_000);
  const second = await s.p.pass();
  assert.equal(second.counts.delivered, 3);
  await assertDeliveredOnce(s);
});

test("a daily quota 429 is not a pacing problem: charges wait an hour and the pass stops asking", async () => {
  await using s = await setup(6, {}, 100);
  s.shop.resend.addFault(dailyQuotaFault(1));
  const report = await s.p.pass();
  assert.equal(report.counts.retrying, 6);
  assert.equal(s.shop.resend.requestCount({ method: "POST", path: "/emails" }), 1, "one refused request, not one per charge");
  for (const id of s.ids) {
    const row = await s.p.row(id);
    assert.match(row?.reason ?? "", /daily sending quota is used up.*retrying in 1 h/);
    assert.ok((row?.next_attempt_at ?? 0) >= s.p.clock.now() + 59 * 60_000, "retried in about an hour");
  }
});

test("remaining 0 with ratelimit-reset 1 (whole seconds) is a signal, not a second's wait", async () => {
  // What a sliding window answers a client sending at exactly the limit, on nearly every send.
  const clock = new ManualClock(T0);
  const pacer = new Pacer(clock, 5);
  const starts: number[] = [];
  for (let i = 0; i < 16; i++) {
    await pacer.turn();
    const sentAt = pacer.sending();
    starts.push(clock.now() - T0);
    pacer.observe({ "ratelimit-limit": "5", "ratelimit-remaining": i === 0 ? "4" : "0", "ratelimit-reset": "1" }, true, sentAt);
  }
  // One start every 1/5 s plus the 2 % margin (204 ms), from the first answer on.
  const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number));
  assert.ok(gaps.every((g) => g === 204), `starts ${starts.join(", ")}: the pacer waited out ratelimit-reset`);
  for (const [i, t] of starts.entries()) assert.ok(starts.filter((u) => u > t - 1000 && u <= t).length <= 5, `over 5 in the second before ${t} (${i})`);
});

test("a 429 is the hard stop: nothing starts before its retry-after", async () => {
  const clock = new ManualClock(T0);
  const pacer = new Pacer(clock, 5);
  await pacer.turn();
  const sentAt = pacer.sending();
  const refused = { "ratelimit-limit": "5", "ratelimit-remaining": "0", "ratelimit-reset": "1", "retry-after": "1" };
  pacer.observe(refused, false, sentAt);
  pacer.rateLimited(refused, 1000, sentAt);
  await pacer.turn(undefined, true);
  assert.equal(clock.now() - T0, 1000);
});

for (const mode of MODES) {
  test(`one pass reaches 95 % of the allowed rate at 0-500 ms latency and 2, 5, 10/s allowed, never over (virtual clock, ${modeName(mode)})`, async () => {
    const cells: string[] = [];
    for (const latencyMs of [0, 100, 250, 500]) {
      for (const allowed of [2, 5, 10]) {
        const r = await simulate({ allowed, mode, latencyMs, ceiling: 10, sends: 100, jitterMs: 5 });
        cells.push(`${latencyMs} ms ${allowed}/s: ${(r.share * 100).toFixed(1)} %, ${r.rateLimited} 429s, peak ${r.peakPerSecond}`);
        assert.ok(r.share >= 0.95, cells.join("\n"));
        assert.ok(r.peakPerSecond <= allowed, cells.join("\n"));
        assert.equal(r.rateLimited, 0, cells.join("\n"));
      }
    }
  });

  test(`four passes at once share the allowance: 90 % in all, 429s under 5 % of the sends (virtual clock, ${modeName(mode)})`, async () => {
    const r = await simulate({ allowed: 5, mode, latencyMs: 250, ceiling: 10, sends: 500, passes: 4, jitterMs: 5, startSpreadMs: 50 });
    assert.ok(r.share >= 0.9, `${(r.share * 100).toFixed(1)} % of the allowance`);
    assert.ok(r.rateLimited < 0.05 * 500, `${r.rateLimited} 429s for 500 sends`);
    assert.ok(r.peakPerSecond <= 5);
  });

  test(`a second sender with work of its own backs off instead of storming (virtual clock, ${modeName(mode)})`, async () => {
    // Two senders of one team, 250 emails each: the window is shared, not fought over.
    const r = await simulate({ allowed: 5, mode, latencyMs: 250, ceiling: 10, sends: 250, passes: 2, ownWork: true, jitterMs: 5, startSpreadMs: 50 });
    assert.ok(r.rateLimited < 0.05 * 500, `${r.rateLimited} 429s for 500 sends`);
    assert.ok(r.share >= 0.75, `${(r.share * 100).toFixed(1)} % of the allowance`);
    // Alone again, the one still sending climbs back to the whole rate.
    const last = r.arrivals.filter((a) => a.admitted).slice(-20);
    assert.equal(last[last.length - 1]?.pace, 5, "back at the full rate at the end");
  });
}

for (const mode of MODES) {
  test(`a process's first requests leaving late are counted from when they left: no 429 at the start (virtual clock, ${modeName(mode)})`, async () => {
    // Measured on the bench (2026-12-02, four cells side by side): a cold process's first
    // requests reach the socket 60-440 ms after their turn (fetch loading, start-up work on the
    // event loop). Counted from their turn, the one `limit` sends later arrives inside their second.
    const cells: string[] = [];
    for (const departDelaysMs of [[130, 420], [110, 30, 170]]) {
      for (const latencyMs of [0, 250, 500]) {
        for (const allowed of [2, 5, 10]) {
          const r = await simulate({ allowed, mode, latencyMs, ceiling: 10, sends: 100, jitterMs: 5, departDelaysMs });
          cells.push(`late [${departDelaysMs.join(", ")}] ms, ${latencyMs} ms ${allowed}/s: ${(r.share * 100).toFixed(1)} %, ${r.rateLimited} 429s, peak ${r.peakPerSecond}`);
          assert.equal(r.rateLimited, 0, cells.join("\n"));
          assert.ok(r.peakPerSecond <= allowed, cells.join("\n"));
          assert.ok(r.share >= 0.95, cells.join("\n"));
        }
      }
    }
  });
}

test("the simulation's fake counts like the HTTP fake: every mode of it keeps one pass under the limit", async () => {
  for (const mode of Object.values(RATE_MODES)) {
    const r = await simulate({ allowed: 5, mode, latencyMs: 100, ceiling: 10, sends: 60 });
    assert.ok(r.peakPerSecond <= 5 && r.rateLimited === 0, `${modeName(mode)}: peak ${r.peakPerSecond}, ${r.rateLimited} 429s`);
  }
});

test("a send held back by a busy event loop is made up, at twice the pace at most, never more than the limit in a window", async () => {
  const clock = new VirtualClock(T0);
  const pacer = new Pacer(clock, 5);
  pacer.observe({ "ratelimit-limit": "5", "ratelimit-remaining": "5", "ratelimit-reset": "0" });
  const starts: number[] = [];
  // Six sends queued at once, as the pool queues them; the second's commit holds the loop 300 ms.
  await clock.run(Promise.all(Array.from({ length: 6 }, () => pacer.turn().then(() => {
    starts.push(clock.now() - T0);
    if (starts.length === 2) clock.stall(300);
  }))));
  // Slots every 1/5 s + 2 % (204 ms): the third starts as soon as the loop is free (504, its slot
  // was 408), the fourth keeps its own slot (612), not one 204 ms after the late third.
  assert.deepEqual(starts, [0, 204, 504, 612, 816, 1020]);
});
