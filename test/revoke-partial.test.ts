import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import { handleEvent } from "../src/http/webhook-events";
import { reconcileOnce } from "../src/pass/reconcile";
import { courseConfig, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

// A refund in full or a dispute revokes every link of a charge, whatever state its other
// products are in: here a kit (download links) is delivered and a bonus (an attachment whose
// file is not staged, or whose send never came back) is not.

const PUBLIC = "https://shop.example.com";
const KIT = {
  key: "kit", name: "Kit", match: { price: "price_kit" }, subject: "Your kit",
  html: "templates/course.html", text: "templates/course.txt",
  downloads: { files: ["products/course.bin"], expiresAfter: "7d", maxDownloads: 3 },
};
const BONUS = { key: "bonus", name: "Bonus", match: { price: "price_bonus" }, subject: "Your bonus", text: "templates/ship-fast.txt", attachments: ["products/bonus.zip"] };

let shop: Shop;
let p: InProcess;
let server: Awaited<ReturnType<typeof linkServer>>;

before(async () => {
  shop = await Shop.start({ config: courseConfig(PUBLIC, { alertTo: "owner@example.com", products: [KIT, BONUS] }) });
  writeCourseFiles(shop.dir);
  // Short enough that the hung send below ends soon, long enough that a send slowed by a busy machine does not time out.
  p = await inProcess(shop, { resendTimeoutMs: 3000 });
  server = await linkServer(p.deps);
});
after(async () => {
  await server?.app.close();
  await p?.close();
  await shop.close();
});
beforeEach(() => shop.resend.clearFaults());

let seq = 0;
/** A charge that bought the kit and the bonus; the kit is delivered, the bonus is not (its file is missing). */
async function kitDeliveredBonusNot(): Promise<{ charge: string; url: string; email: string }> {
  seq++;
  const email = `partial${seq}@example.com`;
  const pi = `pi_partial_${seq}`;
  const c = shop.stripe.addCharge({ amount: 9900, currency: "usd", payment_intent: pi, created: Math.floor(p.clock.now() / 1000) - 5, billing_details: { email, name: "Pat" } });
  shop.stripe.addCheckoutSession({ payment_intent: pi, line_items: [{ price: { id: "price_kit", product: "prod_kit" } }, { price: { id: "price_bonus", product: "prod_bonus" } }] });
  await p.pass();
  const deliveries = await p.ledger.deliveries(c.id);
  assert.deepEqual(deliveries.map((d) => [d.product, d.state === "delivered"]), [["kit", true], ["bonus", false]]);
  const url = (linksIn(shop.resend.sentTo(email).find((m) => m.subject === "Your kit")?.text).get("course.bin") as string).replace(PUBLIC, server.url);
  assert.equal((await fetch(url, { method: "HEAD" })).status, 200);
  return { charge: c.id, url, email };
}

const disputeAlerts = () => shop.resend.sentTo("owner@example.com").filter((m) => m.subject.includes("disputed"));

test("a refund in full after one product was delivered and another not revokes every link of the charge", async () => {
  const { charge, url } = await kitDeliveredBonusNot();
  shop.stripe.refund(charge);
  await p.runPass();
  assert.equal((await p.row(charge))?.state, "skipped");
  assert.equal((await fetch(url, { method: "HEAD" })).status, 410);
  const after = (await p.ledger.afterDeliveryOf(charge)).map((r) => r.event);
  assert.deepEqual(after, ["refunded"], "recorded as revoked after delivery");
});

test("a dispute there revokes the links and alerts the owner like any dispute of a delivered charge", async () => {
  const before = disputeAlerts().length;
  const { charge, url } = await kitDeliveredBonusNot();
  shop.stripe.dispute(charge);
  await handleEvent(p.deps, { id: `evt_partial_dispute_${seq}`, type: "charge.dispute.created", object_id: charge, received_at: p.clock.now(), handled_at: null });
  assert.equal((await fetch(url, { method: "HEAD" })).status, 410);
  const alerts = disputeAlerts().slice(before);
  assert.equal(alerts.length, 1, "alerted from the webhook, without waiting for a pass");
  assert.match(alerts[0]?.text ?? "", new RegExp(`paidup evidence ${charge}`));
  await p.runPass();
  assert.equal(disputeAlerts().length, before + 1, "once");
});

test("a dispute seen only by a pass revokes and alerts too", async () => {
  const before = disputeAlerts().length;
  const { charge, url } = await kitDeliveredBonusNot();
  shop.stripe.dispute(charge);
  await p.runPass();
  assert.equal((await fetch(url, { method: "HEAD" })).status, 410);
  assert.equal(disputeAlerts().length, before + 1);
});

test("a refund of a charge whose other product's sender died mid-send (its claim abandoned) revokes the links", async () => {
  const { charge, url } = await kitDeliveredBonusNot();
  // The bonus file is staged; the pass that sends it hangs in Resend and its process is gone.
  writeBonus();
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "hang", times: 1 });
  p.clock.advance(2 * 3_600_000); // the bonus is due again
  const dying = p.pass();
  await waitFor(async () => (await p.ledger.deliveries(charge)).some((d) => d.product === "bonus" && d.state === "sending"));
  p.clock.advance(6 * 60_000); // its lease runs out
  shop.stripe.refund(charge);
  try {
    // Another process's pass finds the dead claim on a charge refunded meanwhile.
    await reconcileOnce({ ...p.deps, owner: "another-host" });
    assert.equal((await p.row(charge))?.state, "skipped");
    assert.equal((await fetch(url, { method: "HEAD" })).status, 410);
    assert.deepEqual((await p.ledger.afterDeliveryOf(charge)).map((r) => r.event), ["refunded"]);
  } finally {
    await dying.catch(() => undefined);
    p.clock.advance(-(2 * 3_600_000 + 6 * 60_000));
  }
});

function writeBonus(): void {
  fs.writeFileSync(`${shop.dir}/products/bonus.zip`, Buffer.alloc(512, 3));
}

async function waitFor(cond: () => Promise<boolean>, ms = PATIENCE_MS): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
