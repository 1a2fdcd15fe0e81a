import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import { after, test } from "node:test";
import { BACKEND, DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";

// `paidup status`: the monitor. Each test gets its own shop, so the stuck lists are exact.

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function freshShop(config: Record<string, unknown> = {}): Promise<Shop> {
  const shop = await Shop.start({ config });
  shops.push(shop);
  const r = await shop.run(["init", "--since", "2h"]);
  assert.equal(r.code, 0, r.stderr);
  return shop;
}

const now = () => Math.floor(Date.now() / 1000);
const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
const BASE_CONFIG = { from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS };

test("before any pass, status exits 1 with lastPass null and ok false", async () => {
  const shop = await freshShop();
  const r = await shop.run(["status", "--json", "--offline"]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ok: false, lastPass: null, stuck: [], afterDelivery: [] });
});

test("after a clean pass, status exits 0 and says nothing is stuck", async () => {
  const shop = await freshShop();
  shop.stripe.addCharge(paidCharge({ created: now() - 60 }));
  assert.equal((await shop.run(["reconcile"])).code, 0);
  const json = await shop.run(["status", "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout);
  assert.equal(out.ok, true);
  assert.deepEqual(out.stuck, []);
  assert.equal(out.lastPass.ok, true);
  assert.equal(out.lastPass.stale, false);
  assert.match(out.lastPass.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const human = await shop.run(["status"]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /last pass: .*ok/);
  assert.match(human.stdout, /nothing stuck/);
});

test("status lists needs_review and retrying charges in the contract's shape and exits 1", async () => {
  const shop = await freshShop();
  const noProduct = shop.stripe.addCharge(paidCharge({ amount: 777, metadata: {}, created: now() - 120 }));
  const failing = shop.stripe.addCharge(paidCharge({ created: now() - 60, billing_details: { email: "late@example.com", name: "L" } }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 422, times: 1 });
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: 1 });
  assert.equal((await shop.run(["reconcile"])).code, 1);
  // The 422 (or 500) went to whichever charge was sent first; only one charge is sent at all.
  const r = await shop.run(["status", "--json", "--offline"]);
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.ok, false);
  assert.equal(out.lastPass.ok, true);
  assert.deepEqual(out.stuck[0], {
    charge: noProduct.id, state: "needs_review", reason: "no product matches this charge", attempts: 0,
    amount: 777, currency: "usd", email: "buyer@example.com", product: null, created: iso(noProduct.created),
  });
  const second = out.stuck[1];
  assert.equal(second.charge, failing.id);
  assert.equal(second.state, "needs_review", "a 422 is a refusal a retry cannot fix");
  assert.equal(second.attempts, 1);
  assert.equal(second.product, "ship-fast");
  assert.equal(out.stuck.length, 2);

  const human = await shop.run(["status", "--offline"]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /CHARGE\s+STATE\s+AGE\s+ATTEMPTS\s+AMOUNT\s+EMAIL\s+PRODUCT\s+REASON/);
  assert.match(human.stdout, new RegExp(`${noProduct.id}\\s+needs_review\\s+\\d+m\\s+0\\s+\\$7\\.77\\s+buyer@example.com\\s+-\\s+no product matches`));
});

test("a send in flight counts as stuck only once its claim is older than stuckAfter", async () => {
  const shop = await freshShop();
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 30 }));
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "hang" });
  // The pass dies mid-send (kill -9): its row stays `sending` under a live lease.
  const killed = await shop.run(["reconcile"], {
    onSpawn: (pid) => {
      const timer = setInterval(() => {
        if (shop.resend.requestCount({ method: "POST", path: "/emails" }) > 0) {
          clearInterval(timer);
          process.kill(pid, "SIGKILL");
        }
      }, 20);
    },
  });
  assert.equal(killed.signal, "SIGKILL");
  assert.equal(shop.row(c.id)?.state, "sending");
  const fresh = await shop.run(["status", "--json", "--offline"]);
  assert.deepEqual(JSON.parse(fresh.stdout).stuck, []);
  shop.writeConfig({ ...BASE_CONFIG, stuckAfter: "0s" });
  const old = await shop.run(["status", "--json", "--offline"]);
  assert.equal(old.code, 1);
  assert.deepEqual(JSON.parse(old.stdout).stuck.map((e: { charge: string; state: string }) => [e.charge, e.state]), [[c.id, "sending"]]);
});

test("a paid charge in Stripe with no ledger row is reported as missing, except with --offline", async () => {
  const shop = await freshShop();
  assert.equal((await shop.run(["reconcile"])).code, 0);
  // Listed by Stripe only after the pass walked past its second: no pass has recorded it.
  const late = shop.stripe.addCharge(paidCharge({ created: now() - 20 * 60, billing_details: { email: "late@example.com" } }));
  shop.stripe.addCharge(paidCharge({ created: now() - 20 * 60, refunded: true, amount_refunded: 4900 }));
  shop.stripe.addCharge(paidCharge({ created: now() - 60 })); // younger than stuckAfter: not yet
  const r = await shop.run(["status", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).stuck, [{
    charge: late.id, state: "missing", reason: "paid in Stripe but no pass has recorded it", attempts: 0,
    amount: 4900, currency: "usd", email: "late@example.com", product: null, created: iso(late.created),
  }]);
  const offline = await shop.run(["status", "--json", "--offline"]);
  assert.equal(offline.code, 0);
  assert.deepEqual(JSON.parse(offline.stdout).stuck, []);
});

test("status never writes to the ledger", async () => {
  const shop = await freshShop();
  shop.stripe.addCharge(paidCharge({ amount: 777, metadata: {}, created: now() - 120 }));
  await shop.run(["reconcile"]);
  shop.stripe.addCharge(paidCharge({ created: now() - 20 * 60 }));
  // A read-only SQLite reader may create an empty -wal file; a write would put pages in it.
  const bytes = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0));
  const snapshot = () => (BACKEND === "postgres" ? [shop.contentDigest()] : [shop.dbPath, shop.dbPath + "-wal"].map((f) => crypto.createHash("sha256").update(bytes(f)).digest("hex")));
  const before = snapshot();
  const beforeRows = shop.rows();
  const r = await shop.run(["status", "--json"]);
  assert.equal(JSON.parse(r.stdout).stuck.length, 2, "one needs_review, one missing");
  assert.deepEqual(snapshot(), before);
  assert.deepEqual(shop.rows(), beforeRows);
});

test("status exits 1 when the last successful pass is older than staleAfter", async () => {
  const shop = await freshShop();
  await shop.run(["reconcile"]);
  shop.writeConfig({ ...BASE_CONFIG, staleAfter: "0s" });
  const r = await shop.run(["status", "--json", "--offline"]);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.deepEqual([out.ok, out.lastPass.ok, out.lastPass.stale, out.stuck], [false, true, true, []]);
  assert.match((await shop.run(["status", "--offline"])).stdout, /STALE/);
});

test("status --offline needs no keys, and status without --offline needs the Stripe key (exit 2)", async () => {
  const shop = await freshShop();
  await shop.run(["reconcile"]);
  const noKeys = { STRIPE_SECRET_KEY: undefined, RESEND_API_KEY: undefined };
  const offline = await shop.run(["status", "--offline"], { env: noKeys });
  assert.equal(offline.code, 0, offline.stderr);
  const online = await shop.run(["status"], { env: noKeys });
  assert.equal(online.code, 2);
  assert.match(online.stderr, /STRIPE_SECRET_KEY is not set/);
});
