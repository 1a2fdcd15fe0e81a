import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { handleEvent } from "../src/http/webhook-events";
import { resendCharge } from "../src/pass/resend-charge";
import { dailyQuotaFault } from "./fakes/fake-resend";
import { courseConfig, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";

// Links across a crash and a dispute: the same links on a repeated send; one alert per dispute.

let shop: Shop;
let p: InProcess;

before(async () => {
  shop = await Shop.start({ config: courseConfig("https://shop.example.com", { alertTo: "owner@example.com" }) });
  writeCourseFiles(shop.dir);
  p = await inProcess(shop);
});
after(async () => {
  await p.close();
  await shop.close();
});

function course(email: string): string {
  return shop.stripe.addCharge({ amount: 9900, currency: "usd", created: Math.floor(p.clock.now() / 1000) - 5, metadata: { product: "course" }, billing_details: { email, name: "Ada" } }).id;
}

test("a course email whose answer was lost is sent again byte for byte: the same links, one email", async () => {
  const charge = course("lost-answer@example.com");
  // Resend takes the email, then the connection drops: the outcome is unknown to paidup.
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "reset-after-processing", times: 1 });
  await p.pass();
  assert.equal((await p.row(charge))?.state, "retrying");
  const first = linksIn(shop.resend.sentTo("lost-answer@example.com")[0]?.text);
  p.clock.advance(60 * 60_000);
  await p.pass();
  assert.equal((await p.row(charge))?.state, "delivered");
  assert.equal(shop.resend.sendsByKey().get(`paidup-${charge}`), 1, "Resend recognised the repeat: one email");
  assert.equal(shop.resend.sentTo("lost-answer@example.com").length, 1);
  const links = await p.ledger.issueLinks({ charge, product: "course", source: "send", files: [], expiresAfterMs: 0, maxDownloads: 0 }, p.clock.now());
  assert.equal(links.length, 2, "the stored links of the first render, not new ones");
  assert.equal(links[0]?.created_at, links[1]?.created_at);
  assert.equal(first.size, 2);
});

test("a charge delivered 8 days late after a retry gets its full expiresAfter, from when Resend accepted the email", async () => {
  const charge = course("late-retry@example.com");
  // Refused for certain (not an unknown outcome), to be tried again later.
  shop.resend.addFault(dailyQuotaFault());
  await p.pass();
  assert.equal((await p.row(charge))?.state, "retrying");
  const firstRender = p.clock.now();
  // Eight days later (a domain fixed, a quota freed): rendered afresh, accepted now.
  const late = 8 * 86_400_000;
  p.clock.advance(late);
  try {
    await p.pass();
    assert.equal((await p.row(charge))?.state, "delivered");
    const accepted = Math.floor(p.clock.now());
    const mail = shop.resend.sentTo("late-retry@example.com")[0];
    const sent = linksIn(mail?.text);
    assert.equal(sent.size, 2);
    const stored = await p.ledger.renderedLinks(charge, "course", "send");
    assert.equal(stored.length, 2, "one rendering's links, not two");
    assert.ok((stored[0]?.created_at as number) <= firstRender, "the same links as the first render");
    assert.equal(stored[0]?.expires_at, accepted + 7 * 86_400_000, "expiry runs from Resend's acceptance");
    assert.match(mail?.text ?? "", new RegExp(new Date(accepted + 7 * 86_400_000).toISOString().slice(0, 16).replace("T", " ")), "the email shows the date the link works until");
    const server = await linkServer(p.deps);
    try {
      const url = (sent.get("workbook.pdf") as string).replace("https://shop.example.com", server.url);
      assert.equal((await fetch(url, { method: "HEAD" })).status, 200, "works on arrival");
      p.clock.advance(7 * 86_400_000 - 60_000);
      assert.equal((await fetch(url, { method: "HEAD" })).status, 200, "works for all of its 7 days");
      p.clock.advance(60_000);
      assert.equal((await fetch(url, { method: "HEAD" })).status, 410);
    } finally {
      p.clock.advance(-7 * 86_400_000);
      await server.app.close();
    }
  } finally {
    p.clock.advance(-late);
  }
});

test("fresh links from resend start their own expiry, from when Resend accepted their email", async () => {
  const charge = course("fresh-expiry@example.com");
  await p.pass();
  assert.equal((await p.row(charge))?.state, "delivered");
  const first = await p.ledger.renderedLinks(charge, "course", "send");
  assert.equal(first[0]?.expires_at, Math.floor(p.clock.now()) + 7 * 86_400_000);
  const sentAt = Math.floor(p.clock.now());
  p.clock.advance(3 * 86_400_000);
  try {
    const out = await resendCharge(p.deps, charge, undefined);
    const fresh = await p.ledger.renderedLinks(charge, "course", `r${out.run}`);
    assert.equal(fresh.length, 2);
    assert.ok(fresh[0]?.issue !== first[0]?.issue, "fresh links, not the first ones");
    assert.equal(fresh[0]?.expires_at, Math.floor(p.clock.now()) + 7 * 86_400_000, "their own 7 days from their acceptance");
    assert.equal(fresh[0]?.downloads, 0);
    const again = await p.ledger.renderedLinks(charge, "course", "send");
    assert.equal(again[0]?.expires_at, sentAt + 7 * 86_400_000, "the first email's links keep their own expiry");
  } finally {
    p.clock.advance(-3 * 86_400_000);
  }
});

test("a dispute after delivery alerts the owner once, naming paidup evidence, however often it is seen", async () => {
  const charge = course("disputer@example.com");
  await p.pass();
  assert.equal((await p.row(charge))?.state, "delivered");
  shop.stripe.dispute(charge);
  for (let i = 0; i < 3; i++) {
    await handleEvent(p.deps, { id: `evt_dispute_${i}`, type: "charge.dispute.created", object_id: charge, received_at: p.clock.now(), handled_at: null });
    await p.runPass();
  }
  const alerts = shop.resend.sentTo("owner@example.com").filter((m) => m.subject.includes("disputed"));
  assert.equal(alerts.length, 1);
  // Not only Resend's idempotency (24 h): paidup itself asked once.
  assert.equal(shop.resend.requests.filter((r) => r.idempotencyKey?.startsWith("paidup-alert-disputed-")).length, 1);
  assert.match(alerts[0]?.text ?? "", new RegExp(`paidup evidence ${charge}`));
  assert.match(alerts[0]?.text ?? "", /download links no longer work/);
});

test("a refund after delivery sends no alert (the owner made it) but is listed after delivery", async () => {
  const charge = course("refunded@example.com");
  await p.pass();
  const before = shop.resend.sentTo("owner@example.com").length;
  shop.stripe.refund(charge);
  await p.runPass();
  assert.equal(shop.resend.sentTo("owner@example.com").length, before);
  const rows = await p.ledger.afterDeliverySince(0);
  assert.deepEqual(rows.filter((r) => r.charge_id === charge).map((r) => r.event), ["refunded"]);
});
