import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { courseConfig, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";

// The buyers' page in one process: the real routes, a real pass's deliveries, a ManualClock.

const PUBLIC = "https://shop.example.com";
let shop: Shop;
let p: InProcess;
let server: Awaited<ReturnType<typeof linkServer>>;

before(async () => {
  shop = await Shop.start({ config: courseConfig(PUBLIC) });
  writeCourseFiles(shop.dir);
  p = await inProcess(shop);
  server = await linkServer(p.deps);
});
after(async () => {
  await server.app.close();
  await p.close();
  await shop.close();
});

async function buy(email: string, product = "course"): Promise<string> {
  const c = shop.stripe.addCharge({ amount: 9900, currency: "usd", created: Math.floor(p.clock.now() / 1000) - 5, metadata: { product }, billing_details: { email, name: "Ada" } });
  await p.pass();
  assert.equal((await p.row(c.id))?.state, "delivered");
  return c.id;
}

async function ask(email: string): Promise<string> {
  const res = await fetch(`${server.url}/downloads`, { method: "POST", body: new URLSearchParams({ email }), headers: { "content-type": "application/x-www-form-urlencoded" } });
  assert.equal(res.status, 200);
  const page = await res.text();
  await server.idle();
  return page;
}

const pageEmails = (to: string) => shop.resend.sentTo(to).filter((m) => m.subject === "Your downloads from Ship Shop");

test("GET /downloads is a plain form with the shop's name, no script, sized for a phone", async () => {
  const res = await fetch(`${server.url}/downloads`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
  const html = await res.text();
  assert.match(html, /<title>Your downloads: Ship Shop<\/title>/);
  assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  assert.match(html, /<form method="post" action="\/downloads">/);
  assert.match(html, /<label for="email">Email address<\/label>/);
  assert.doesNotMatch(html, /<script/i);
});

test("a POST answers the same page for a buyer and for a stranger", async () => {
  await buy("same-page@example.com");
  const forBuyer = await ask("same-page@example.com");
  const forStranger = await ask("nobody-bought@example.com");
  assert.equal(forBuyer, forStranger);
  assert.match(forBuyer, /Check your inbox/);
  assert.equal(pageEmails("nobody-bought@example.com").length, 0);
});

test("a buyer gets one email with fresh links for every delivered purchase with downloads, matched case-insensitively", async () => {
  await buy("Two.Courses@Example.com");
  await buy("two.courses@example.com");
  await buy("two.courses@example.com", "ship-fast"); // an attachment product: no links
  await ask("  TWO.courses@EXAMPLE.com ");
  const mails = pageEmails("two.courses@example.com");
  assert.equal(mails.length, 1);
  assert.equal((mails[0]?.text?.match(/\/d\//g) ?? []).length, 4, "two files for each of two courses");
  const original = linksIn(shop.resend.sentTo("two.courses@example.com")[0]?.text);
  for (const url of original.values()) assert.doesNotMatch(mails[0]?.text ?? "", new RegExp(url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), "fresh links, not the first ones");
  const link = (mails[0]?.text ?? "").match(/https:\/\/shop\.example\.com\/d\/\S+/)?.[0] as string;
  assert.equal((await fetch(link.replace(PUBLIC, server.url))).status, 200);
});

test("an address gets at most one email per 15 minutes, kept in the ledger", async () => {
  await buy("window@example.com");
  await ask("window@example.com");
  await ask("window@example.com");
  assert.equal(pageEmails("window@example.com").length, 1);
  p.clock.advance(14 * 60_000);
  await ask("Window@example.com");
  assert.equal(pageEmails("window@example.com").length, 1);
  p.clock.advance(60_000);
  await ask("window@example.com");
  assert.equal(pageEmails("window@example.com").length, 2);
});

test("a refunded purchase gets no fresh links", async () => {
  const charge = await buy("refunded-buyer@example.com");
  shop.stripe.refund(charge);
  await p.ledger.recordAfterDelivery(charge, "refunded", p.clock.now(), p.clock.now());
  await ask("refunded-buyer@example.com");
  assert.equal(pageEmails("refunded-buyer@example.com").length, 0);
});

