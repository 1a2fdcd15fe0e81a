import assert from "node:assert/strict";
import { test } from "node:test";
import { STATE } from "../src/states";
import { dailyQuotaFault } from "./fakes/fake-resend";
import { inProcess } from "./helpers/in-process";
import { paidCharge, Shop } from "./helpers/shop";

// A 429 for Resend's daily or monthly quota is waited out (CONTRACT.md, Configuration): it does
// not use up the charge's attempts, and the charge is delivered once the quota allows, without
// `retry`. Passes run in-process on a ManualClock, so "a day later" is one `advance`.

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

function monthlyQuotaFault(times: number) {
  return { method: "POST", path: "/emails", times, kind: "status" as const, status: 429,
    body: { statusCode: 429, name: "monthly_quota_exceeded", message: "You have reached your monthly email sending quota." } };
}

test("a charge refused for quota over many passes never reaches needs_review and is delivered once the quota frees", async () => {
  const shop = await Shop.start({ config: { retry: { maxAttempts: 3, delays: ["1m"] } } });
  const created = Math.floor(T0 / 1000) - 60;
  shop.stripe.addCharge(paidCharge({ id: "ch_quota_launch", created, billing_details: { email: "early@example.com", name: "Early" } }));
  const p = await inProcess(shop, { nowMs: T0, startLine: created - 1 });
  try {
    // Far more quota refusals than maxAttempts (3): a launch day on a capped plan, then a month's cap.
    shop.resend.addFault(dailyQuotaFault(10));
    shop.resend.addFault(monthlyQuotaFault(4));
    let passes = 0;
    for (; passes < 40; passes++) {
      await p.pass();
      const row = await p.row("ch_quota_launch");
      if (row?.state === STATE.delivered) break;
      assert.equal(row?.state, STATE.retrying, `pass ${passes + 1}: waiting out the quota (${row?.reason})`);
      assert.equal(row?.failed_sends, 0, `pass ${passes + 1}: a quota refusal uses up none of the charge's attempts`);
      assert.ok((row?.next_attempt_at ?? 0) > p.clock.now(), "the next try waits for the quota");
      p.clock.advance((row?.next_attempt_at ?? 0) - p.clock.now());
    }
    const row = await p.row("ch_quota_launch");
    assert.equal(row?.state, STATE.delivered, "delivered without `retry` once the quota allowed it");
    assert.equal(passes, 14, "one pass per quota refusal, then the one that delivered");
    assert.equal(shop.resend.sendsByKey().get("paidup-ch_quota_launch"), 1, "one email");
  } finally {
    await p.close();
    await shop.close();
  }
});

test("quota refusals between real failures do not count: the real failures alone reach maxAttempts", async () => {
  const shop = await Shop.start({ config: { retry: { maxAttempts: 3, delays: ["1m"] } } });
  const created = Math.floor(T0 / 1000) - 60;
  shop.stripe.addCharge(paidCharge({ id: "ch_quota_mixed", created, billing_details: { email: "mixed@example.com", name: "Mixed" } }));
  const p = await inProcess(shop, { nowMs: T0, startLine: created - 1 });
  try {
    const serverError = { method: "POST", path: "/emails", times: 1, kind: "status" as const, status: 500,
      body: { statusCode: 500, name: "internal_server_error", message: "boom" } };
    // 500, quota, quota, 500, quota, 500: three real failures is maxAttempts; the quotas add none.
    for (const fault of [serverError, dailyQuotaFault(2), serverError, dailyQuotaFault(1), serverError]) shop.resend.addFault(fault);
    const states: string[] = [];
    for (let i = 0; i < 6; i++) {
      await p.pass();
      const row = await p.row("ch_quota_mixed");
      states.push(`${row?.state}/${row?.failed_sends}`);
      if (row?.state !== STATE.retrying) break;
      p.clock.advance((row?.next_attempt_at ?? 0) - p.clock.now());
    }
    assert.deepEqual(states, ["retrying/1", "retrying/1", "retrying/1", "retrying/2", "retrying/2", "needs_review/3"]);
  } finally {
    await p.close();
    await shop.close();
  }
});
