import assert from "node:assert/strict";
import { test } from "node:test";
import { PerIpLimit } from "../src/http/per-ip-limit";

// The per-client limiter behind the buyers' page (and the license API): a sliding minute,
// counted by the injected clock, with memory bounded however many addresses come.

test("a client gets `limit` requests in any window, then a Retry-After until its oldest one is a window old", () => {
  let now = 1_000_000;
  const limit = new PerIpLimit({ limit: 3, windowMs: 60_000, now: () => now });
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(limit.take("203.0.113.7"), { ok: true });
    now += 10_000;
  }
  // Oldest at 1,000,000, now 1,030,000: free again at 1,060,000, 30 s away.
  assert.deepEqual(limit.take("203.0.113.7"), { ok: false, retryAfterS: 30 });
  assert.deepEqual(limit.take("198.51.100.1"), { ok: true }, "another client is counted on its own");
  now += 29_999;
  assert.deepEqual(limit.take("203.0.113.7"), { ok: false, retryAfterS: 1 });
  now += 1;
  assert.deepEqual(limit.take("203.0.113.7"), { ok: true });
  assert.equal(limit.take("203.0.113.7").ok, false, "refused requests are not counted, but the window stays full");
});

test("a flood from many addresses keeps at most maxClients tracked", () => {
  const now = 5_000;
  const limit = new PerIpLimit({ limit: 10, windowMs: 60_000, now: () => now, maxClients: 100 });
  for (let i = 0; i < 10_000; i++) limit.take(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(limit.size, 100);
});
