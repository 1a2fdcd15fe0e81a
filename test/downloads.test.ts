import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { handleEvent } from "../src/http/webhook-events";
import { COURSE_BYTES, courseConfig, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

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

/** Waits until `n` requests through the charge's links are logged (each is written once its answer ends). */
async function logged(charge: string, n: number): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while ((await p.ledger.downloadRequests(charge)).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} requests logged for ${charge}`);
    await new Promise((r) => setTimeout(r, 5));
  }
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
  // Two resumed halves: within the byte budget of 4 files (maxDownloads + 1) with the three below.
  for (let i = 0; i < 2; i++) {
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
  await logged(charge, 1); // the request is logged once its bytes are out, just after the body
  shop.stripe.refund(charge);
  await handleEvent(p.deps, { id: "evt_refund_1", type: "charge.refunded", object_id: charge, received_at: p.clock.now(), handled_at: null });
  assert.equal((await fetch(url)).status, 410);
  const after = (await p.ledger.afterDeliverySince(0)).filter((r) => r.charge_id === charge);
  assert.deepEqual(after.map((r) => [r.event, r.downloads]), [["refunded", 1]]);
});

/** Reads an answer to the end; returns its status and how many bytes came. */
async function get(url: string, range?: string, method = "GET"): Promise<{ status: number; bytes: number }> {
  const res = await fetch(url, { method, headers: range ? { range } : {} });
  return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
}

test("a used-up link answers 429 to every GET and HEAD, ranges not from byte 0 included", async () => {
  const { links } = await buyCourse("used-up-ranges@example.com");
  const url = local(links.get("course.bin") as string);
  for (let i = 0; i < 3; i++) assert.equal((await get(url)).status, 200);
  assert.equal((await get(url, "bytes=1-")).status, 429);
  assert.equal((await get(url, "bytes=150000-150099")).status, 429);
  assert.equal((await get(url, "bytes=-100")).status, 429);
  assert.equal((await get(url, `bytes=${COURSE_BYTES}-`)).status, 429, "used up comes before 416");
  assert.equal((await get(url, "bytes=1-", "HEAD")).status, 429);
});

test("a link serves at most (maxDownloads + 1) × the file's size in bytes, ranges included; then 429 to GET and HEAD", async () => {
  const { links } = await buyCourse("byte-budget@example.com");
  const url = local(links.get("course.bin") as string);
  const budget = (3 + 1) * COURSE_BYTES;
  let served = 0;
  // Ranges that never start at byte 0: no download is counted, but every byte is.
  for (let i = 0; i < 4; i++) {
    const r = await get(url, "bytes=1-");
    assert.equal(r.status, 206);
    served += r.bytes;
  }
  assert.equal(served, budget - 4);
  assert.equal((await get(url, "bytes=1-")).status, 429, "more than the budget has left");
  assert.equal((await get(url)).status, 429, "a whole download does not fit either, though none was counted");
  const last = await get(url, `bytes=${COURSE_BYTES - 4}-`);
  assert.deepEqual(last, { status: 206, bytes: 4 }, "what is left of the budget is served");
  assert.equal((await get(url, `bytes=${COURSE_BYTES - 1}-`)).status, 429);
  assert.equal((await get(url, undefined, "HEAD")).status, 429, "HEAD of a spent link");
});

test("two requests at once cannot both take the last of a link's byte budget", async () => {
  const { links } = await buyCourse("budget-race@example.com");
  const url = local(links.get("course.bin") as string);
  // Spend 3 × (size − 1) of the 4 × size budget, leaving size + 3 bytes; then ask ten times at
  // once for a range of more than half of that.
  for (let i = 0; i < 3; i++) assert.equal((await get(url, "bytes=1-")).status, 206);
  const half = Math.floor((COURSE_BYTES + 3) / 2) + 1;
  const results = await Promise.all(Array.from({ length: 10 }, () => get(url, `bytes=${COURSE_BYTES - half}-`)));
  assert.deepEqual(results.map((r) => r.status).sort(), [206, ...Array(9).fill(429)]);
});

test("the download log keeps the last 1,000 requests per link, pruned in the same write", async () => {
  const { charge, links } = await buyCourse("long-log@example.com");
  const url = local(links.get("workbook.pdf") as string);
  const link = { charge, product: "course", file: 1, issue: 0 }; // workbook.pdf, the second file
  // 1,005 requests logged one after the other (the ledger operation every request uses), then a HEAD.
  for (let i = 0; i < 1005; i++) {
    await p.ledger.logDownloadRequest({ link, at: p.clock.now() - 5000 + i, ip: "198.51.100.9", userAgent: `n${i}`, method: "HEAD", range: null, status: 200, bytes: 0, counted: false });
  }
  assert.equal((await fetch(url, { method: "HEAD", headers: { "user-agent": "last" } })).status, 200);
  const kept = (await p.ledger.downloadRequests(charge)).filter((r) => r.file_name === "workbook.pdf");
  assert.equal(kept.length, 1000);
  assert.deepEqual(kept.map((r) => r.user_agent).slice(-2), ["n1004", "last"]);
  assert.equal(kept[0]?.user_agent, "n6", "the oldest went first");
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

