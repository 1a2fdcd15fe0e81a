import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import pg from "pg";
import { cluster, Cluster, postgresAvailable, psql, TEST_ROLE, terminateTestSessions } from "./helpers/postgres";
import { paidCharge, RunResult, Shop } from "./helpers/shop";

// A PostgreSQL server that restarts, fails over or goes away for a while (CONTRACT.md,
// "Promises", last bullet): the pass it cuts ends as exit 3 with a one-line reason and no stack
// trace, a daemon keeps running and its next passes pick up, and each charge is emailed once.
//
// This file restarts and stops its server, so it runs its own cluster instead of the one the
// suite's other files share (cluster() starts one per process when PAIDUP_TEST_PG is unset).
delete process.env.PAIDUP_TEST_PG;

const SKIP = postgresAvailable() ? false : "PostgreSQL binaries not installed";

let shop: Shop;
let pgc: Cluster;
before(async () => {
  if (SKIP) return;
  pgc = await cluster();
  shop = await Shop.start({ backend: "postgres" });
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await shop?.close();
});
beforeEach(() => shop?.resend.clearFaults());

/** Polls a condition (no fixed sleeps); fails the test instead of hanging. */
async function waitFor(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** How many of the test role's sessions wait on a lock right now. */
const waitingOnLock = () => Number(psql(pgc, `SELECT count(*) FROM pg_stat_activity WHERE usename = '${TEST_ROLE}' AND wait_event_type = 'Lock'`).trim());

/**
 * A superuser session (over the unix socket, so terminating the test role's sessions spares it)
 * that holds a table lock: paidup's reads go on, its writes to that table wait inside their
 * transaction, on a checked-out client: the moment a restart or failover hurts most.
 */
async function holdWriteLock(table: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ host: pgc.socketDir, port: pgc.port, user: "postgres", database: (shop.databaseUrl as string).split("/").pop() });
  await client.connect();
  await client.query("BEGIN");
  await client.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
  return {
    async release() {
      await client.query("ROLLBACK");
      await client.end();
    },
  };
}

/** The one line a pass cut by the database prints: exit 3, a reason, no stack trace. */
function assertUnavailable(r: RunResult): void {
  assert.equal(r.code, 3, `exit 3, got ${r.code} (${r.signal ?? "no signal"}):\n${r.stderr}`);
  const lines = r.stderr.trim().split("\n");
  const reasons = lines.filter((l) => l.startsWith("paidup: "));
  assert.equal(reasons.length, 1, r.stderr);
  assert.match(reasons[0] as string, /ledger database .* (is unavailable|cannot be reached)/);
  assert.doesNotMatch(r.stderr, /unexpected failure|please report it/);
  assert.ok(lines.length <= 2, `the reason and its hint, nothing else:\n${r.stderr}`);
}

const sends = (id: string) => shop.resend.sendsByKey().get(`paidup-${id}`) ?? 0;

test("reconcile: the sessions are terminated while a claim's transaction waits on its client: exit 3, one line; the next pass delivers once", { skip: SKIP }, async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30 }));
  const lock = await holdWriteLock("deliveries");
  let run: Promise<RunResult>;
  try {
    run = shop.run(["reconcile"]);
    await waitFor("the claim to wait on the lock", () => waitingOnLock() > 0);
    assert.ok(terminateTestSessions(pgc) > 0);
  } finally {
    await lock.release();
  }
  assertUnavailable(await run);
  assert.equal(sends(c.id), 0, "nothing was sent by the cut pass");

  const next = await shop.run(["reconcile"]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sends(c.id), 1);
});
