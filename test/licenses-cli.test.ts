import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { systemClock } from "../src/clock";
import { loadConfig } from "../src/config";
import { createLedger, Ledger } from "../src/ledger";
import type { Logger } from "../src/log";
import type { PassDeps } from "../src/pass/pass-deps";
import { appConfig, buyApp, keyIn, post, serveApp, writeAppFiles } from "./helpers/license-shop";
import { Shop } from "./helpers/shop";
import { waitFor } from "./helpers/wait";

// The owner's commands as the real CLI runs them, on the shop's own ledger: the charge is
// delivered by `paidup reconcile`, its key used on serve's license routes (opened on the same
// ledger in this process), and `license`, `license disable|enable|deactivate`, `resend` and
// `evidence` are subprocesses.

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
let shop: Shop;
let ledger: Ledger;
let server: Awaited<ReturnType<typeof serveApp>>;
let charge: string;
let key: string;

before(async () => {
  shop = await Shop.start({ config: appConfig() });
  writeAppFiles(shop.dir);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  charge = buyApp(shop.stripe, Date.now(), "owner@example.com", 2, { customer: "cus_owner1" }).id;
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  key = keyIn(shop.resend.sentTo("owner@example.com")[0]?.text);
  ({ ledger } = await createLedger({ dbPath: shop.dbPath, databaseUrl: shop.databaseUrl }));
  const deps = { ledger, config: loadConfig(shop.configPath), clock: systemClock, log: quiet, mailer: null, owner: "test" } as unknown as PassDeps;
  server = await serveApp(deps, shop.stripe.url);
});
after(async () => {
  await server?.app.close();
  await ledger?.close();
  await shop.close();
});

const json = async (args: string[]) => {
  const r = await shop.run(args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
};

test("paidup license <key> --json shows the key, its meta and its instances (with IP); <charge_id> gives an array", async () => {
  const act = await post(server.url, "activate", { license_key: key, instance_name: "studio mac" }, { ip: "203.0.113.7" });
  assert.equal(act.status, 200);
  const shown = await json(["license", key, "--json"]);
  assert.deepEqual(Object.keys(shown), ["license_key", "meta", "instances"]);
  assert.equal(shown.license_key.key, key);
  assert.equal(shown.license_key.activation_limit, 4, "2 activations × quantity 2");
  assert.equal(shown.license_key.status, "active");
  assert.equal(shown.meta.order_id, charge);
  assert.equal(shown.meta.customer_id, "cus_owner1");
  assert.equal(shown.meta.product_name, "Focus App");
  assert.deepEqual(Object.keys(shown.instances[0]), ["id", "name", "created_at", "ip", "deactivated_at"]);
  assert.equal(shown.instances[0].ip, "203.0.113.7");
  assert.equal(shown.instances[0].name, "studio mac");
  const byCharge = await json(["license", charge, "--json"]);
  assert.ok(Array.isArray(byCharge));
  assert.equal(byCharge[0].license_key.key, key);
  const human = await shop.run(["license", key]);
  assert.match(human.stdout, /activations {2}1 of 4/);
  assert.match(human.stdout, /"studio mac"/);
});

test("license disable makes validate false at once; enable makes it valid again", async () => {
  assert.equal((await shop.run(["license", "disable", key])).code, 0);
  let v = await post(server.url, "validate", { license_key: key }, { ip: "203.0.113.8" });
  assert.deepEqual([v.body.valid, v.body.license_key.status], [false, "disabled"]);
  const r = await shop.run(["license", "enable", key]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /is now active/);
  v = await post(server.url, "validate", { license_key: key }, { ip: "203.0.113.8" });
  assert.equal(v.body.valid, true);
});

test("license deactivate frees a slot; an unknown instance, an unknown key or a charge without keys is exit 2", async () => {
  const act = await post(server.url, "activate", { license_key: key, instance_name: "old laptop" }, { ip: "203.0.113.9" });
  const before = (await json(["license", key, "--json"])).license_key.activation_usage;
  assert.equal((await shop.run(["license", "deactivate", key, act.body.instance.id])).code, 0);
  assert.equal((await json(["license", key, "--json"])).license_key.activation_usage, before - 1);
  const again = await shop.run(["license", "deactivate", key, act.body.instance.id]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /not an active instance/);
  const unknown = await shop.run(["license", "FOCUS-NOPE"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no such license key/);
  assert.ok(!unknown.stderr.includes(key.slice(6, 12)), "nothing about a real key");
  assert.equal((await shop.run(["license", "disable", "FOCUS-NOPE"])).code, 2);
  const none = await shop.run(["license", "ch_nothing_here"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /has no license keys/);
});

test("resend carries the same key; evidence lists each activation (time, IP, instance) beside the downloads", async () => {
  const r = await shop.run(["resend", charge]);
  assert.equal(r.code, 0, r.stderr);
  const mails = shop.resend.sentTo("owner@example.com");
  assert.equal(mails.length, 2);
  assert.equal(keyIn(mails[1]?.text), key);
  const e = await json(["evidence", charge, "--json"]);
  assert.ok(e.activations.length >= 2);
  assert.deepEqual(Object.keys(e.activations[0]), ["at", "product", "ip", "instance", "deactivatedAt"]);
  assert.equal(e.activations[0].ip, "203.0.113.7");
  assert.equal(e.activations[0].instance, "studio mac");
  const human = await shop.run(["evidence", charge]);
  assert.match(human.stdout, /license activations \(\d+\)/);
  assert.match(human.stdout, /license key of app activated on "studio mac" {2}IP 203\.0\.113\.7/);
});

test("a pass SIGKILLed while Resend holds its send: the next pass repeats it byte for byte, one email, and the key in it validates", async () => {
  const c = buyApp(shop.stripe, Date.now(), "killed@example.com");
  // Resend holds the send (its key taken, the email not yet accepted) until the pass is dead: a
  // fixed delay could end, and the pass commit and exit, before a busy machine delivers the kill.
  let open = () => undefined as void;
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "gate", processing: true, open: new Promise<void>((r) => (open = r)), times: 1 });
  let pid = 0;
  const pass = shop.run(["reconcile"], { onSpawn: (p) => (pid = p) });
  try {
    await waitFor("the pass's send reached Resend", () => shop.resend.keyInProgress(`paidup-${c.id}`));
    process.kill(pid, "SIGKILL");
    assert.equal((await pass).signal, "SIGKILL");
  } finally {
    open();
  }
  while (shop.resend.sentTo("killed@example.com").length === 0) await new Promise((r) => setTimeout(r, 20));
  // The dead pass's claim has expired (as after 5 minutes).
  shop.exec(`UPDATE deliveries SET lease_until = 0 WHERE charge_id = '${c.id}'`);
  shop.exec(`UPDATE charges SET lease_until = 0 WHERE id = '${c.id}'`);
  const again = await shop.run(["reconcile"]);
  assert.ok(again.code === 0 || again.code === 1, again.stderr);
  assert.equal(shop.row(c.id)?.state, "delivered");
  const mails = shop.resend.sentTo("killed@example.com");
  assert.equal(mails.length, 1, "Resend recognised the repeat (same key, same bytes)");
  const v = await post(server.url, "validate", { license_key: keyIn(mails[0]?.text) }, { ip: "203.0.113.20" });
  assert.equal(v.body.valid, true);
  assert.equal(v.body.meta.order_id, c.id);
});
