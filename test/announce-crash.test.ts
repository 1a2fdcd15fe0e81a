import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { announcementsByAddress, deliverTo, PUBLIC_URL, writeAnnouncement } from "./helpers/announce-shop";
import { Shop } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

// Exactly once for announcements, with real CLI processes: killed mid-batch and run again, two
// runs at once on one ledger, and a crash whose batch is older than Resend's idempotency window.

const BUYERS = 250; // three batches: 100, 100, 50
let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { publicUrl: PUBLIC_URL } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  await deliverTo(shop, Array.from({ length: BUYERS }, (_, i) => ({ email: `buyer${i}@example.com`, name: `Buyer ${i}` })));
  assert.equal(shop.query("SELECT count(*) AS n FROM deliveries WHERE state = 'delivered'").map((r) => Number(r.n))[0], BUYERS);
  // Each batch takes 400 ms at Resend, so a kill can land while one is in flight.
  shop.resend.setLatency(400);
});
after(async () => shop.close());
afterEach(() => shop.resend.clearFaults());

async function until(check: () => boolean, what: string, ms = PATIENCE_MS): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const batchRequests = () => shop.resend.requests.filter((r) => r.path === "/emails/batch");

function perAddress(subject: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [to, list] of announcementsByAddress(shop)) out.set(to, list.filter((m) => m.subject === subject).length);
  return out;
}

function assertEachOnce(subject: string): void {
  const counts = perAddress(subject);
  assert.equal([...counts.values()].filter((n) => n === 1).length, BUYERS, "every buyer got it");
  assert.deepEqual([...counts].filter(([, n]) => n > 1), [], "nobody got it twice");
}

/** Starts `announce`, SIGKILLs it once its second batch reached Resend (still being processed there). */
async function killMidBatch(args: string[]): Promise<void> {
  const before = batchRequests().length;
  let pid = 0;
  const run = shop.run(["announce", ...args], { onSpawn: (p) => (pid = p) });
  await until(() => batchRequests().length >= before + 2, "the second batch request");
  process.kill(pid, "SIGKILL");
  const r = await run;
  assert.equal(r.signal, "SIGKILL");
}

test("SIGKILL mid-batch, then the same command again: each buyer gets the announcement exactly once, the batch in flight replayed under its key", { timeout: 120_000 }, async () => {
  const files = writeAnnouncement(shop, "kill", "v2 is out, {{name}}. {{unsubscribe}}\n");
  const args = ["ship-fast", "--subject", "Killed v2", "--text", files.text, "--json"];
  await killMidBatch(args);
  const inFlight = shop.query<{ key: string }>("SELECT key FROM announcement_batches WHERE state = 'sending'").map((r) => r.key);
  assert.equal(inFlight.length, 1, "the killed run left its batch recorded, claimed and unanswered");
  const r = await shop.run(["announce", ...args]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { recipients: number; sent: number; alreadySent: number; failed: number };
  assert.equal(json.recipients, BUYERS);
  assert.equal(json.sent + json.alreadySent, BUYERS);
  assert.equal(json.failed, 0);
  assertEachOnce("Killed v2");
  assert.ok(batchRequests().filter((q) => q.idempotencyKey === inFlight[0]).length >= 2, "the killed batch was sent again under its own key");
  assert.equal(shop.resend.batchEmailsByKey().get(inFlight[0] as string), 100, "and Resend sent its emails once");
});

test("two runs of the same announcement at once share the work: each buyer once, every batch sent by one of them", { timeout: 120_000 }, async () => {
  const files = writeAnnouncement(shop, "twice", "Bonus chapter, {{name}}. {{unsubscribe}}\n");
  const args = ["announce", "ship-fast", "--subject", "Two runs", "--text", files.text, "--json"];
  const [a, b] = await Promise.all([shop.run(args), shop.run(args)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const [ja, jb] = [a, b].map((r) => JSON.parse(r.stdout) as { announcement: string; sent: number; alreadySent: number });
  assert.equal(ja?.announcement, jb?.announcement, "one announcement, not two");
  assert.equal((ja?.sent ?? 0) + (jb?.sent ?? 0), BUYERS, "between them they sent each email once");
  assertEachOnce("Two runs");
  for (const [key, n] of shop.resend.batchEmailsByKey()) assert.ok(n <= 100, key);
});

test("a batch left unanswered for longer than 23 h is not sent again: its recipients are counted unknown (exit 1)", { timeout: 120_000 }, async () => {
  const files = writeAnnouncement(shop, "old", "Late fix, {{name}}. {{unsubscribe}}\n");
  const args = ["ship-fast", "--subject", "Window passed", "--text", files.text, "--json"];
  await killMidBatch(args);
  const [stale] = shop.query<{ key: string }>("SELECT key FROM announcement_batches WHERE state = 'sending'").map((r) => r.key);
  // The crash happened a day ago: Resend may no longer know the key.
  shop.exec(`UPDATE announcement_batches SET first_sent_at = first_sent_at - ${24 * 3_600_000} WHERE key = '${stale}'`);
  const requestsBefore = batchRequests().filter((q) => q.idempotencyKey === stale).length;
  const r = await shop.run(["announce", ...args]);
  assert.equal(r.code, 1, r.stderr);
  const json = JSON.parse(r.stdout) as { recipients: number; sent: number; alreadySent: number; unknown: number; failed: number };
  assert.deepEqual([json.unknown, json.failed, json.sent + json.alreadySent + json.unknown], [100, 0, BUYERS]);
  assert.match(r.stderr, /100 recipient\(s\) unknown/);
  assert.equal(batchRequests().filter((q) => q.idempotencyKey === stale).length, requestsBefore, "the stale batch was not sent again");
  assert.deepEqual([...perAddress("Window passed")].filter(([, n]) => n > 1), []);
  // And a run after that still sends nothing to them.
  const again = await shop.run(["announce", ...args]);
  assert.equal((JSON.parse(again.stdout) as { sent: number }).sent, 0);
});

test("SIGTERM stops after the batch in flight, exit 1 with the rest counted failed, and the same command finishes the job", { timeout: 120_000 }, async () => {
  const files = writeAnnouncement(shop, "term", "Stopping politely, {{name}}. {{unsubscribe}}\n");
  const args = ["announce", "ship-fast", "--subject", "Terminated", "--text", files.text, "--json"];
  const before = batchRequests().length;
  let pid = 0;
  const run = shop.run(args, { onSpawn: (p) => (pid = p) });
  await until(() => batchRequests().length >= before + 1, "the first batch request");
  process.kill(pid, "SIGTERM");
  const r = await run;
  assert.equal(r.code, 1, r.stderr);
  const json = JSON.parse(r.stdout) as { sent: number; failed: number; recipients: number };
  assert.ok(json.sent >= 100 && json.sent < BUYERS, `the batch in flight completed (${json.sent})`);
  assert.equal(json.sent + json.failed, BUYERS);
  const again = await shop.run(args);
  assert.equal(again.code, 0, again.stderr);
  assertEachOnce("Terminated");
});
