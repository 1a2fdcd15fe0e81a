import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, before, beforeEach, test } from "node:test";
import pg from "pg";
import { cluster, Cluster, postgresAvailable, psql, restartServer, startServer, stopServer, TEST_ROLE, terminateTestSessions } from "./helpers/postgres";
import { BACKEND, BIN, DEFAULT_PRODUCTS, paidCharge, RunResult, Shop, stackTraceLines } from "./helpers/shop";
import { PATIENCE_MS, exitWithin, listeningOn } from "./helpers/wait";

// A PostgreSQL server that restarts, fails over or goes away for a while (CONTRACT.md,
// "Promises", last bullet): the pass it cuts ends as exit 3 with a one-line reason and no stack
// trace, a daemon keeps running and its next passes pick up, and each charge is emailed once.
//
// This file restarts and stops its server, so it runs its own cluster instead of the one the
// suite's other files share (cluster() starts one per process when PAIDUP_TEST_PG is unset).
delete process.env.PAIDUP_TEST_PG;

// Once per suite run, in the PostgreSQL promises (npm run test:postgres-promises), not again with SQLite.
const SKIP = !postgresAvailable() ? "PostgreSQL binaries not installed" : BACKEND !== "postgres" ? "runs with PAIDUP_TEST_BACKEND=postgres" : false;

const COURSE = {
  key: "course", name: "Course", match: { price: "price_course" }, subject: "Your course",
  text: "templates/ship-fast.txt", attachments: ["products/course.zip"],
};

let shop: Shop;
let pgc: Cluster;
before(async () => {
  if (!SKIP) pgc = await cluster();
});
// Each test gets its own shop and database: what one cut pass leaves must not be the next test's.
beforeEach(async () => {
  if (SKIP) return;
  shop = await Shop.start({ backend: "postgres", config: { products: [...DEFAULT_PRODUCTS, COURSE] } });
  fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(4096, 9));
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
afterEach(async () => {
  await shop?.close();
});

/** Polls a condition (no fixed sleeps); fails the test instead of hanging. */
async function waitFor(what: string, cond: () => boolean, ms = PATIENCE_MS): Promise<void> {
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
  assert.match(reasons[0] as string, /^paidup: (cannot reach the ledger database|the ledger database .* is unavailable)/);
  assert.doesNotMatch(r.stderr, /unexpected failure|please report it/);
  assert.ok(lines.length <= 2, `the reason and its hint, nothing else:\n${r.stderr}`);
}

const sends = (key: string) => shop.resend.sendsByKey().get(key) ?? 0;
const posts = () => shop.resend.requestCount({ method: "POST", path: "/emails" });
const deliveries = (id: string) => shop.query<{ product: string; state: string }>(`SELECT product, state FROM deliveries WHERE charge_id = '${id}' ORDER BY position`);

let carts = 0;
/** A paid charge whose Checkout Session bought two products: starter (sent first), then course. */
function cartCharge() {
  const pi = `pi_restart_cart_${++carts}`;
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, payment_intent: pi, metadata: {}, billing_details: { email: `cart${carts}@example.com`, name: "Cat" } }));
  shop.stripe.addCheckoutSession({
    payment_intent: pi,
    line_items: [{ price: { id: "price_starter", product: "prod_starter" } }, { price: { id: "price_course", product: "prod_course" } }],
  });
  return c;
}

/** The next send to Resend waits until the test opens its gate. */
function gateNextSend(): () => void {
  let open!: () => void;
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "gate", open: new Promise<void>((r) => (open = r)) });
  return () => open();
}

/** What a later pass finds once the 5-minute leases of a cut pass ran out. */
function expireLeases(): void {
  shop.exec("UPDATE deliveries SET lease_until = 0 WHERE state = 'sending'");
  shop.exec("UPDATE charges SET lease_until = 0 WHERE state = 'sending'");
}

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
  assert.equal(sends(`paidup-${c.id}`), 0, "nothing was sent by the cut pass");

  const next = await shop.run(["reconcile"]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sends(`paidup-${c.id}`), 1);
});

test("reconcile with the server stopped, before anything is listed: exit 3, one line; nothing written", { skip: SKIP }, async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30 }));
  stopServer(pgc);
  let r: RunResult;
  try {
    r = await shop.run(["reconcile"]);
  } finally {
    startServer(pgc);
  }
  assertUnavailable(r);
  assert.equal(shop.row(c.id), undefined, "nothing recorded");
  assert.equal(sends(`paidup-${c.id}`), 0);
  const next = await shop.run(["reconcile"]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(sends(`paidup-${c.id}`), 1);
});

test("reconcile: a commit after a confirmed send is cut: exit 3; the product not sent yet is given back at once, the sent one is recorded by a later pass without a second email", { skip: SKIP }, async () => {
  const c = cartCharge();
  const open = gateNextSend();
  const before = posts();
  const run = shop.run(["reconcile"]);
  let lock: { release(): Promise<void> } | undefined;
  try {
    await waitFor("starter's send to reach Resend", () => posts() > before);
    // Resend took starter's email; its commit will wait on this lock, and its session be ended.
    lock = await holdWriteLock("deliveries");
    open();
    await waitFor("starter's commit to wait on the lock", () => waitingOnLock() > 0);
    assert.ok(terminateTestSessions(pgc) > 0);
  } finally {
    open();
    await lock?.release();
  }
  assertUnavailable(await run);
  assert.equal(sends(`paidup-${c.id}`), 1, "starter was sent");
  assert.equal(sends(`paidup-${c.id}-course`), 0, "course was not");
  // Course was never sent: it is back in line now, not held for the 5 minutes of its lease.
  assert.deepEqual(deliveries(c.id), [{ product: "starter", state: "sending" }, { product: "course", state: "retrying" }]);

  const next = await shop.run(["reconcile"]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(sends(`paidup-${c.id}-course`), 1, "the next pass sends course at once");
  // Starter's outcome is known only to Resend: its lease runs out, and the repeat under the same
  // key is recognised, not sent again.
  expireLeases();
  const later = await shop.run(["reconcile"]);
  assert.equal(later.code, 0, later.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sends(`paidup-${c.id}`), 1);
  assert.equal(sends(`paidup-${c.id}-course`), 1);
});

test("reconcile: the server restarts (pg_ctl restart -m fast) while a send is out: the send is recorded, nothing is left for a lease", { skip: SKIP }, async () => {
  const c = cartCharge();
  const open = gateNextSend();
  const before = posts();
  const run = shop.run(["reconcile"]);
  try {
    await waitFor("starter's send to reach Resend", () => posts() > before);
    restartServer(pgc);
  } finally {
    open();
  }
  // The pass may have read the ledger during the restart (its walk goes on beside the send):
  // then it ends as exit 3, but only after its sends in flight were committed.
  const r = await run;
  if (r.code !== 0) assertUnavailable(r);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sends(`paidup-${c.id}`), 1);
  assert.equal(sends(`paidup-${c.id}-course`), 1);
});

test("reconcile: the server is stopped for a while during a send: exit 3; once it is back, later passes deliver each product once", { skip: SKIP }, async () => {
  const c = cartCharge();
  const open = gateNextSend();
  const before = posts();
  const run = shop.run(["reconcile"]);
  let r: RunResult;
  try {
    await waitFor("starter's send to reach Resend", () => posts() > before);
    stopServer(pgc);
    open();
    r = await run;
  } finally {
    open();
    startServer(pgc);
  }
  assertUnavailable(r);
  assert.equal(sends(`paidup-${c.id}`), 1);
  // Nothing could be written while the server was down: both products wait for their leases.
  assert.deepEqual(deliveries(c.id), [{ product: "starter", state: "sending" }, { product: "course", state: "sending" }]);
  expireLeases();
  const next = await shop.run(["reconcile"]);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  assert.equal(sends(`paidup-${c.id}`), 1);
  assert.equal(sends(`paidup-${c.id}-course`), 1);
});

test("an operator's command cut mid-transaction (resolve): exit 3, one line, nothing resolved", { skip: SKIP }, async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30 }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 422, times: 1 });
  assert.equal((await shop.run(["reconcile"])).code, 1);
  assert.equal(shop.row(c.id)?.state, "needs_review");
  const lock = await holdWriteLock("charges");
  let run: Promise<RunResult>;
  try {
    run = shop.run(["resolve", c.id, "--note", "sent by hand"]);
    await waitFor("resolve to wait on the lock", () => waitingOnLock() > 0);
    assert.ok(terminateTestSessions(pgc) > 0);
  } finally {
    await lock.release();
  }
  assertUnavailable(await run);
  assert.equal(shop.row(c.id)?.state, "needs_review");
});

test("daemon --serve: sessions terminated again and again mid-pass; the daemon and /healthz stay up, later passes deliver every charge once", { skip: SKIP, timeout: 120_000 }, async () => {
  const SECRET = "whsec_test_pg_restart_secret_0000";
  const charges = Array.from({ length: 30 }, (_, i) =>
    shop.stripe.addCharge(paidCharge({ created: shop.stripe.nowSeconds() - 30, billing_details: { email: `d${i}@example.com`, name: "D" } })));
  // Slow sends keep passes long: every termination below lands in the middle of one.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "delay", ms: 300, times: 1000 });
  const child = spawn(process.execPath, [BIN, "daemon", "--serve", "--port", "0", "--schedule", "*/1 * * * * *"], {
    cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    const base = await listeningOn(child, () => stderr);
    const alive = () => child.exitCode === null && child.signalCode === null;
    const health: number[] = [];
    const healthz = async () => {
      try {
        health.push((await fetch(`${base}/healthz`)).status);
      } catch (err) {
        throw new Error(`/healthz did not answer (${String((err as Error).cause ?? err)}; daemon ${alive() ? "running" : `exited ${child.exitCode}`}):\n${stderr}`);
      }
    };
    const delivered = () => charges.filter((c) => sends(`paidup-${c.id}`) > 0).length;

    // Each time a send has reached Resend since the last cut, cut every session of the daemon:
    // claims, commits and reads of the passes in flight, and /healthz's.
    let cuts = 0;
    while (cuts < 6 && delivered() < charges.length) {
      const seen = posts();
      await waitFor("a send of the running pass", () => posts() > seen || !alive() || delivered() === charges.length);
      assert.ok(alive(), `the daemon is still running after ${cuts} cuts:\n${stderr}`);
      if (terminateTestSessions(pgc) > 0) cuts++;
      await healthz();
    }
    assert.ok(cuts >= 3, `the sessions were cut mid-pass (${cuts} times)`);

    // The cut passes' sent-but-unrecorded claims wait out their leases (5 minutes; here, a while).
    await waitFor("every charge delivered", () => {
      if (!alive()) return true;
      const old = Date.now() - 3000;
      shop.exec(`UPDATE deliveries SET lease_until = 0 WHERE state = 'sending' AND state_since < ${old}`);
      shop.exec(`UPDATE charges SET lease_until = 0 WHERE state = 'sending' AND state_since < ${old}`);
      return charges.every((c) => shop.row(c.id)?.state === "delivered");
    }, 90_000).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(shop.query("SELECT charge_id, state, reason, lease_until, state_since FROM deliveries WHERE state <> 'delivered'"))}\n${stderr}`);
    });
    assert.ok(alive(), `the daemon is still running:\n${stderr}`);
    await healthz();
    assert.ok(health.every((s) => s === 200 || s === 503), `/healthz answered every time: ${health.join(",")}`);
    for (const c of charges) assert.equal(sends(`paidup-${c.id}`), 1, `${c.id} emailed once`);
    assert.deepEqual(stackTraceLines(stderr), [], stderr);
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
  assert.equal(await exitWithin(child, () => stderr), 0, stderr);
});
