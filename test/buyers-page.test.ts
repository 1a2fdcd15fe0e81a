import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import Fastify from "fastify";
import { buyersPageRoutes } from "../src/http/buyers-page";
import { WorkQueue } from "../src/http/event-queue";
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


function post(email: string): Promise<Response> {
  return fetch(`${server.url}/downloads`, { method: "POST", body: new URLSearchParams({ email }), headers: { "content-type": "application/x-www-form-urlencoded" } });
}

test("one client may POST 10 times a minute; beyond that 429 with Retry-After, and nothing is looked up or stored", async () => {
  const charge = await buy("hammer@example.com");
  p.clock.advance(2 * 60_000); // a minute of its own, whatever the tests before it asked
  for (let i = 0; i < 10; i++) {
    const res = await post(`stranger-${i}@example.com`);
    assert.equal(res.status, 200);
    await res.text();
    p.clock.advance(1000);
  }
  await server.idle();
  const refused = await post("hammer@example.com");
  assert.equal(refused.status, 429);
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 51, `Retry-After ${refused.headers.get("retry-after")}`);
  await refused.text();
  await server.idle();
  assert.equal(pageEmails("hammer@example.com").length, 0, "the refused request sent nothing");
  assert.equal((await fetch(`${server.url}/downloads`)).status, 200, "the form itself is not limited");
  // Once the oldest of the ten is a minute old, the client may POST again; the address's
  // 15-minute window is still free, so the refused request stored nothing.
  p.clock.advance(retryAfter * 1000);
  assert.equal((await post("hammer@example.com")).status, 200);
  await server.idle();
  const mails = pageEmails("hammer@example.com");
  assert.equal(mails.length, 1);
  assert.match(mails[0]?.text ?? "", /\/d\//);
  assert.ok(charge);
});

test("a full work line answers 503 and does not grow; the next POST after it drains is taken", async () => {
  p.clock.advance(2 * 60_000);
  const queue = new WorkQueue(p.deps.log, 3);
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  queue.push("a slow job ahead", () => blocked);
  const app = Fastify();
  await app.register(buyersPageRoutes, { deps: p.deps, later: (what, job) => queue.tryPush(what, job) });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/downloads`;
  const send = (email: string) => fetch(url, { method: "POST", body: new URLSearchParams({ email }), headers: { "content-type": "application/x-www-form-urlencoded" } });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await send(`line-${i}@example.com`);
      statuses.push(res.status);
      await res.text();
    }
    assert.deepEqual(statuses, [200, 200, 503, 503, 503]);
    assert.equal(queue.size, 3, "the line held at its bound");
    release();
    await queue.idle();
    assert.equal(queue.size, 0);
    assert.equal((await send("line-after@example.com")).status, 200);
    await queue.idle();
  } finally {
    release();
    await app.close();
  }
});

test("an address with nothing to send stores nothing: once it buys, its next request is answered at once", async () => {
  p.clock.advance(2 * 60_000);
  await ask("not-yet@example.com");
  await buy("not-yet@example.com");
  await ask("not-yet@example.com");
  assert.equal(pageEmails("not-yet@example.com").length, 1, "no 15-minute window was taken by the first request");
});
