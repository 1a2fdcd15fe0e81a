import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { handleEvent } from "../src/http/webhook-events";
import { COURSE_BYTES, courseConfig, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";

// Download links end to end in one process: a real pass delivers a course through the real
// Resend SDK to the fake, and the links in that email are fetched from the real routes.

const PUBLIC = "https://shop.example.com";
let shop: Shop;
let server: Awaited<ReturnType<typeof linkServer>>;
let p: InProcess;

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

const local = (url: string) => url.replace(PUBLIC, server.url);

async function buyCourse(email: string): Promise<{ charge: string; links: Map<string, string> }> {
  const charge = shop.stripe.addCharge({
    amount: 9900, currency: "usd", created: Math.floor(p.clock.now() / 1000) - 5,
    metadata: { product: "course" }, billing_details: { email, name: "Ada Buyer" },
  });
  await p.pass();
  assert.equal((await p.row(charge.id))?.state, "delivered");
  const mail = shop.resend.sentTo(email).find((m) => m.text?.includes("course.bin"));
  assert.ok(mail, "the course email was sent");
  return { charge: charge.id, links: linksIn(mail.text) };
}

test("a delivered course email carries one signed link per file under publicUrl, with an expiry", async () => {
  const { links } = await buyCourse("links@example.com");
  assert.deepEqual([...links.keys()], ["course.bin", "workbook.pdf"]);
  for (const url of links.values()) assert.match(url, /^https:\/\/shop\.example\.com\/d\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const mail = shop.resend.sentTo("links@example.com")[0];
  assert.match(mail?.html ?? "", /<a href="https:\/\/shop\.example\.com\/d\/[^"]+">course\.bin<\/a> until \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
});

test("a link serves the file whole (200) with Content-Length, ranges accepted and as an attachment", async () => {
  const { links } = await buyCourse("whole@example.com");
  const res = await fetch(local(links.get("course.bin") as string));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), String(COURSE_BYTES));
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename="course\.bin"/);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, COURSE_BYTES);
  assert.equal(body[1000], (1000 * 31) & 0xff);
});

test("HEAD and later ranges do not count; a GET from byte 0 does, and the link answers 429 once they are used up", async () => {
  const { links } = await buyCourse("count@example.com");
  const url = local(links.get("course.bin") as string);
  const head = await fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(COURSE_BYTES));
  for (let i = 0; i < 5; i++) {
    const later = await fetch(url, { headers: { range: "bytes=100-" } });
    assert.equal(later.status, 206);
    await later.arrayBuffer();
  }
  // maxDownloads is 3: a whole GET, a range from 0, another whole GET.
  for (const range of [undefined, "bytes=0-99", undefined]) {
    const res = await fetch(url, { headers: range ? { range } : {} });
    assert.equal(res.status, range ? 206 : 200);
    await res.arrayBuffer();
  }
  const used = await fetch(url);
  assert.equal(used.status, 429);
  await used.text();
  assert.equal((await fetch(url, { method: "HEAD" })).status, 429);
});

test("a range past the end answers 416", async () => {
  const { links } = await buyCourse("range@example.com");
  const res = await fetch(local(links.get("course.bin") as string), { headers: { range: `bytes=${COURSE_BYTES}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get("content-range"), `bytes */${COURSE_BYTES}`);
});

test("an altered or made-up token answers 404", async () => {
  const { links } = await buyCourse("altered@example.com");
  const url = local(links.get("workbook.pdf") as string);
  const flipped = url.slice(0, -3) + (url.slice(-3, -2) === "A" ? "B" : "A") + url.slice(-2);
  assert.equal((await fetch(flipped)).status, 404);
  assert.equal((await fetch(`${server.url}/d/nothing-here`)).status, 404);
  assert.equal((await fetch(`${server.url}/d/${"x".repeat(600)}.${"y".repeat(22)}`)).status, 404);
});

test("a link answers 410 once it expired, even when its downloads are used up", async () => {
  const { links } = await buyCourse("expired@example.com");
  const url = local(links.get("workbook.pdf") as string);
  for (let i = 0; i < 3; i++) await (await fetch(url)).arrayBuffer();
  assert.equal((await fetch(url)).status, 429);
  p.clock.advance(7 * 86_400_000);
  const res = await fetch(url);
  assert.equal(res.status, 410);
  assert.match(await res.text(), /expired[\s\S]*\/downloads/);
  p.clock.advance(-7 * 86_400_000);
});

test("a refund after delivery, seen through the webhook path, revokes the links (410) and lists it after delivery", async () => {
  const { charge, links } = await buyCourse("refund@example.com");
  const url = local(links.get("course.bin") as string);
  await (await fetch(url)).arrayBuffer();
  shop.stripe.refund(charge);
  await handleEvent(p.deps, { id: "evt_refund_1", type: "charge.refunded", object_id: charge, received_at: p.clock.now(), handled_at: null });
  assert.equal((await fetch(url)).status, 410);
  const after = (await p.ledger.afterDeliverySince(0)).filter((r) => r.charge_id === charge);
  assert.deepEqual(after.map((r) => [r.event, r.downloads]), [["refunded", 1]]);
});

test("a dispute after delivery with no webhook is noticed by the next pass from Stripe's events and revokes the links", async () => {
  const { charge, links } = await buyCourse("dispute@example.com");
  const url = local(links.get("course.bin") as string);
  assert.equal((await fetch(url, { method: "HEAD" })).status, 200);
  // Four days later on both clocks, the charge is older than any listing a pass walks (the
  // deep re-list reaches back 72 hours): only Stripe's events can tell.
  const later = 4 * 86_400_000;
  shop.stripe.clockOffsetMs += later;
  p.clock.advance(later);
  try {
    // One pass there moves the watermark (and does its hourly 72 h re-list) past the charge.
    await p.pass();
    const disputedAt = shop.stripe.nowSeconds() - 1;
    shop.stripe.dispute(charge, disputedAt);
    shop.stripe.resetCounters();
    await p.runPass();
    assert.equal(shop.stripe.requestCount({ path: `/v1/charges/${charge}` }), 0, "the pass did not look at the charge itself");
    assert.equal((await fetch(url)).status, 410);
    const after = (await p.ledger.afterDeliverySince(0)).find((r) => r.charge_id === charge);
    assert.equal(after?.event, "disputed");
    assert.equal(after?.at, disputedAt * 1000);
  } finally {
    shop.stripe.clockOffsetMs -= later;
    p.clock.advance(-later);
  }
});
test("every request through a link is logged with time, IP, user agent, status and bytes", async () => {
  const { charge, links } = await buyCourse("log@example.com");
  const url = local(links.get("course.bin") as string);
  await (await fetch(url, { headers: { "user-agent": "EvidenceBot/1.0" } })).arrayBuffer();
  await fetch(url, { method: "HEAD" });
  await (await fetch(url, { headers: { range: "bytes=10-19" } })).arrayBuffer();
  let rows = await p.ledger.downloadRequests(charge);
  for (let i = 0; i < 50 && rows.length < 3; i++) {
    await new Promise((r) => setImmediate(r));
    rows = await p.ledger.downloadRequests(charge);
  }
  assert.deepEqual(rows.map((r) => [r.method, r.status, r.bytes, r.counted]), [["GET", 200, COURSE_BYTES, 1], ["HEAD", 200, 0, 0], ["GET", 206, 10, 0]]);
  assert.equal(rows[0]?.user_agent, "EvidenceBot/1.0");
  assert.equal(rows[0]?.ip, "127.0.0.1");
  assert.equal(rows[0]?.file_name, "course.bin");
});
