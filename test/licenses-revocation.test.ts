import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { handleEvent } from "../src/http/webhook-events";
import { hashKey } from "../src/licenses/keys";
import { appConfig, buyApp, keyIn, post, serveApp, writeAppFiles } from "./helpers/license-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";

// Revocation rides on what download links already have: a refund in full or a dispute after
// delivery disables the key, through serve's webhook path (within the minute) or the pass's
// read of Stripe's events (within the hour); a dispute won enables it again unless the owner
// set it by hand; a partial refund leaves it; the owner's enable overrides what was recorded.

let shop: Shop;
let p: InProcess;
let server: Awaited<ReturnType<typeof serveApp>>;
let n = 0;

before(async () => {
  shop = await Shop.start({ config: appConfig() });
  writeAppFiles(shop.dir);
  p = await inProcess(shop);
  server = await serveApp(p.deps, shop.stripe.url);
});
after(async () => {
  await server.app.close();
  await p.close();
  await shop.close();
});

async function bought(): Promise<{ charge: string; key: string }> {
  const email = `rev${++n}@example.com`;
  const charge = buyApp(shop.stripe, p.clock.now(), email);
  await p.pass();
  return { charge: charge.id, key: keyIn(shop.resend.sentTo(email)[0]?.text) };
}

async function status(key: string): Promise<{ valid: boolean; status: string; certificate: string | null }> {
  const v = await post(server.url, "validate", { license_key: key }, { ip: `10.5.0.${++n % 250}` });
  return { valid: v.body.valid, status: v.body.license_key.status, certificate: v.body.certificate };
}

const webhook = (type: string, charge: string) =>
  handleEvent(p.deps, { id: `evt_${type}_${charge}_${++n}`, type, object_id: charge, received_at: p.clock.now(), handled_at: null });

async function setByOwner(key: string, enabled: boolean): Promise<void> {
  const row = await p.ledger.licenseByHash(hashKey(key));
  assert.ok(row);
  await p.ledger.setLicenseEnabled(row.id, enabled, p.clock.now());
}

test("a full refund seen by the webhook disables the key at once: validate is false without a certificate, activate is 400", async () => {
  const { charge, key } = await bought();
  assert.deepEqual(await status(key), { valid: true, status: "inactive", certificate: (await status(key)).certificate });
  shop.stripe.refund(charge);
  await webhook("charge.refunded", charge);
  assert.deepEqual(await status(key), { valid: false, status: "disabled", certificate: null });
  const act = await post(server.url, "activate", { license_key: key, instance_name: "pc" }, { ip: "10.5.1.1" });
  assert.equal(act.status, 400);
  assert.match(act.body.error, /disabled/);
});

test("a partial refund leaves the key as it is", async () => {
  const { charge, key } = await bought();
  shop.stripe.updateCharge(charge, { amount_refunded: 500 });
  await webhook("charge.refunded", charge);
  await p.runPass();
  assert.equal((await status(key)).status, "inactive");
});

test("a dispute read from Stripe's events by a pass disables the key; the dispute won, read the same way, makes it active again", async () => {
  const { charge, key } = await bought();
  assert.equal((await post(server.url, "activate", { license_key: key, instance_name: "pc" }, { ip: "10.5.2.1" })).status, 200);
  const dispute = shop.stripe.dispute(charge);
  await p.runPass();
  assert.equal((await status(key)).status, "disabled");
  shop.stripe.closeDispute(String(dispute.id), "won");
  p.clock.advance(60 * 60_000);
  await p.runPass();
  const after = await status(key);
  assert.equal(after.status, "active");
  assert.equal(after.valid, true);
});

test("a dispute won, seen by the webhook, enables the key within the minute; a dispute lost leaves it disabled", async () => {
  const won = await bought();
  const d1 = shop.stripe.dispute(won.charge);
  await webhook("charge.dispute.created", won.charge);
  assert.equal((await status(won.key)).status, "disabled");
  shop.stripe.closeDispute(String(d1.id), "won");
  await webhook("charge.dispute.closed", won.charge);
  assert.equal((await status(won.key)).status, "inactive");

  const lost = await bought();
  const d2 = shop.stripe.dispute(lost.charge);
  await webhook("charge.dispute.created", lost.charge);
  shop.stripe.closeDispute(String(d2.id), "lost");
  await webhook("charge.dispute.closed", lost.charge);
  p.clock.advance(60 * 60_000);
  await p.runPass();
  assert.equal((await status(lost.key)).status, "disabled");
});

test("a dispute won does not enable a key the owner disabled meanwhile", async () => {
  const { charge, key } = await bought();
  const d = shop.stripe.dispute(charge);
  await webhook("charge.dispute.created", charge);
  await setByOwner(key, false);
  shop.stripe.closeDispute(String(d.id), "won");
  await webhook("charge.dispute.closed", charge);
  assert.equal((await status(key)).status, "disabled");
});

test("the owner's enable overrides a refund already recorded; a dispute that comes later disables the key again", async () => {
  const { charge, key } = await bought();
  shop.stripe.refund(charge);
  await webhook("charge.refunded", charge);
  await setByOwner(key, true);
  assert.equal((await status(key)).status, "inactive");
  // The same refund seen again (a pass, the events read) changes nothing.
  await webhook("charge.refunded", charge);
  p.clock.advance(60 * 60_000);
  await p.runPass();
  assert.equal((await status(key)).status, "inactive");
  shop.stripe.dispute(charge);
  await webhook("charge.dispute.created", charge);
  assert.equal((await status(key)).status, "disabled");
});
