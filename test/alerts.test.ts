import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";
import { waitFor } from "./helpers/wait";

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { alertTo: "owner@example.com" } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);
const alerts = () => shop.resend.sentTo("owner@example.com");

test("a charge that becomes stuck sends one alert to alertTo, naming the charge and the command that fixes it", async () => {
  const c = shop.stripe.addCharge(paidCharge({ amount: 777, metadata: {}, created: now() - 30 }));
  assert.equal((await shop.run(["reconcile"])).code, 1);
  assert.equal(alerts().length, 1);
  const alert = alerts()[0];
  assert.match(alert?.subject ?? "", /\[paidup\] 1 charge\(s\) stuck/);
  assert.match(alert?.text ?? "", new RegExp(`${c.id}\\s+needs_review`));
  assert.match(alert?.text ?? "", /why: no product matches this charge/);
  assert.match(alert?.text ?? "", new RegExp(`paidup retry ${c.id}`));
});

test("a second pass with nothing newly stuck sends no alert", async () => {
  await shop.run(["reconcile"]);
  await shop.run(["reconcile"]);
  assert.equal(alerts().length, 1);
});

test("a charge retried and stuck again is alerted again (once), and after resolve nothing more", async () => {
  const id = shop.rows().find((r) => r.state === "needs_review")?.id as string;
  assert.equal((await shop.run(["retry", id])).code, 0);
  await shop.run(["reconcile"]);
  assert.equal(shop.row(id)?.state, "needs_review", "still no product for it");
  assert.equal(alerts().length, 2, "stuck again after a fix: a new alert, not Resend replaying the first");
  await shop.run(["reconcile"]);
  assert.equal(alerts().length, 2);

  assert.equal((await shop.run(["resolve", id, "--note", "sent by hand"])).code, 0);
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(alerts().length, 2, "a resolved charge is not alerted");
});

test("without alertTo, no alert is sent", async () => {
  shop.writeConfig({ from: "Shop <shop@example.com>", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS });
  const before = shop.resend.sent.length;
  shop.stripe.addCharge(paidCharge({ amount: 778, metadata: {}, created: now() - 5 }));
  assert.equal((await shop.run(["reconcile"])).code, 1);
  assert.equal(shop.resend.sent.length, before, "no email at all: the charge has no product, and nobody to alert");
});

test("two passes racing on the same alert send it once, and the one that lost logs no error", async () => {
  shop.writeConfig({ from: "Shop <shop@example.com>", alertTo: "owner@example.com", resend: { maxPerSecond: 100 }, products: DEFAULT_PRODUCTS });
  const c = shop.stripe.addCharge(paidCharge({ amount: 779, metadata: {}, created: now() - 5 }));
  const before = alerts().length;
  const alertRequests = () => shop.resend.requests.filter((r) => r.idempotencyKey?.startsWith("paidup-alert-")).length;
  const requestsBefore = alertRequests();
  // The first pass's alert is held at Resend until the second pass has run beside it (a fixed
  // delay could end before a second process starts on a busy machine).
  let open = () => undefined as void;
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "gate", open: new Promise<void>((r) => (open = r)) });
  const first = shop.run(["reconcile"]);
  let second;
  try {
    await waitFor("the first pass's alert reaches Resend", () => alertRequests() > requestsBefore);
    second = await shop.run(["reconcile"], { env: { LOG_LEVEL: "info" } });
  } finally {
    open();
  }
  const firstResult = await first;
  assert.equal(second.code, 1, second.stderr);
  assert.equal(firstResult.code, 1, firstResult.stderr);
  assert.doesNotMatch(second.stderr, /alert email failed/);
  assert.doesNotMatch(second.stderr, / error /);
  assert.match(second.stderr, /another paidup process is sending this same alert/);
  assert.equal(alerts().length, before + 1, "one alert email");
  assert.match(alerts().at(-1)?.text ?? "", new RegExp(c.id));
});
