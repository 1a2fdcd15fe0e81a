import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { announcementsByAddress, deliverTo, headersOf, writeAnnouncement } from "./helpers/announce-shop";
import { chromiumAvailable, launchBrowser, TestBrowser } from "./helpers/browser";
import { BIN, paidCharge, Shop } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

// Leaving announcements against the real `paidup serve`: the one-click POST a mail provider
// makes to the List-Unsubscribe URL (RFC 8058), the page with its button in Chromium without
// JavaScript, 404 for altered tokens, and purchases that keep arriving after an unsubscribe.

const SECRET = "whsec_test_paidup_webhook_secret_000";
let shop: Shop;
let serve: ChildProcess;
let base: string;
let browser: TestBrowser | undefined;
let charges: string[];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  shop = await Shop.start({ config: { publicUrl: base } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  charges = await deliverTo(shop, [{ email: "oneclick@example.com", name: "Olly" }, { email: "Page@Example.com", name: "Pat" }, { email: "stays@example.com", name: "Sam" }]);
  const files = writeAnnouncement(shop, "v2", "Hi {{name}}, v2 is out. Leave: {{unsubscribe}}\n");
  const r = await shop.run(["announce", "ship-fast", "--subject", "v2", "--text", files.text]);
  assert.equal(r.code, 0, r.stderr);
  serve = spawn(process.execPath, [BIN, "serve", "--port", String(port)], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  serve.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  const started = Date.now();
  while (!out.includes("listening on")) {
    if (Date.now() - started > PATIENCE_MS) throw new Error("serve did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
});
after(async () => {
  await browser?.close();
  serve.kill("SIGTERM");
  await new Promise((r) => serve.once("exit", r));
  await shop.close();
});

function unsubscribeUrlOf(address: string): string {
  const mail = announcementsByAddress(shop).get(address)?.[0];
  assert.ok(mail, `an announcement to ${address}`);
  const header = headersOf(mail)["List-Unsubscribe"] ?? "";
  assert.equal(headersOf(mail)["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  return header.slice(1, -1);
}

const unsubscribed = () => shop.query<{ email: string; source: string }>("SELECT email, source FROM unsubscribes ORDER BY email");

test("the one-click POST a mail provider makes to the List-Unsubscribe URL answers 200 and unsubscribes that address only", async () => {
  const url = unsubscribeUrlOf("oneclick@example.com");
  assert.ok(url.startsWith(`${base}/unsubscribe/`), url);
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /You are unsubscribed/);
  assert.deepEqual(unsubscribed(), [{ email: "oneclick@example.com", source: "one-click" }]);
  // Again, and with no body at all (some providers send none): still 200, still one row.
  assert.equal((await fetch(url, { method: "POST" })).status, 200);
  assert.equal((await fetch(url, { method: "POST", headers: { "content-type": "multipart/form-data; boundary=x" }, body: "--x--\r\n" })).status, 200);
  assert.equal(unsubscribed().length, 1);
});

test("an altered, truncated or made-up token is 404 on GET and POST and unsubscribes nobody; other methods are 405", async () => {
  const url = unsubscribeUrlOf("stays@example.com");
  const token = url.slice(url.lastIndexOf("/") + 1);
  const [body, mac] = token.split(".") as [string, string];
  const forged = `${Buffer.from("stays2@example.com").toString("base64url")}.${mac}`;
  const flipped = `${body}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BA" : "AA"}`;
  for (const t of [forged, flipped, body, "nothing", `${token}x`]) {
    assert.equal((await fetch(`${base}/unsubscribe/${t}`)).status, 404, t);
    assert.equal((await fetch(`${base}/unsubscribe/${t}`, { method: "POST", body: "List-Unsubscribe=One-Click", headers: { "content-type": "application/x-www-form-urlencoded" } })).status, 404, t);
  }
  assert.equal((await fetch(url, { method: "DELETE" })).status, 405);
  assert.equal(unsubscribed().some((u) => u.email.startsWith("stays")), false);
});

test("a buyer in Chromium without JavaScript opens the unsubscribe page, presses the button and is unsubscribed", { skip: !chromiumAvailable() && "no /usr/bin/chromium" }, async () => {
  browser = await launchBrowser({ javaScriptEnabled: false });
  const page = await browser.context.newPage();
  const url = unsubscribeUrlOf("page@example.com");
  await page.goto(url);
  assert.equal(await page.title(), "Unsubscribe: Shop");
  assert.match(await page.getByRole("heading", { level: 1 }).innerText(), /Stop update emails from Shop\?/);
  assert.deepEqual(unsubscribed().map((u) => u.email), ["oneclick@example.com"], "opening the page unsubscribes nobody");
  await page.getByRole("button", { name: "Unsubscribe" }).click();
  await page.getByRole("status").waitFor();
  assert.match(await page.getByRole("status").innerText(), /You are unsubscribed/);
  await page.screenshot({ path: path.join(browser.outDir, "unsubscribed.png"), fullPage: true });
  assert.deepEqual(unsubscribed(), [{ email: "oneclick@example.com", source: "one-click" }, { email: "page@example.com", source: "page" }]);
  process.stdout.write(`# screenshot in ${browser.outDir}\n`);
});

test("unsubscribed addresses are left out of the next announcement but still get their purchases and resends", async () => {
  shop.exec("INSERT INTO unsubscribes (email, at, source) VALUES ('page@example.com', 1, 'page') ON CONFLICT (email) DO NOTHING");
  const files = writeAnnouncement(shop, "v3", "v3, {{name}}. {{unsubscribe}}\n");
  const r = await shop.run(["announce", "ship-fast", "--subject", "v3", "--text", files.text, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { recipients: number; excluded: { unsubscribed: number } };
  assert.deepEqual([json.recipients, json.excluded.unsubscribed], [1, 2]);
  assert.deepEqual([...announcementsByAddress(shop)].filter(([, l]) => l.some((m) => m.subject === "v3")).map(([to]) => to), ["stays@example.com"]);
  // Purchases are another matter: a resend and a new purchase still reach the unsubscribed buyer.
  assert.equal((await shop.run(["resend", charges[0] as string])).code, 0);
  shop.stripe.addCharge(paidCharge({ created: Math.floor(Date.now() / 1000) - 5, billing_details: { email: "oneclick@example.com", name: "Olly" } }));
  assert.equal((await shop.run(["reconcile"])).code, 0);
  const purchases = shop.resend.sentTo("oneclick@example.com").filter((m) => m.batchKey === undefined);
  assert.equal(purchases.length, 3, "first delivery, the resend, the new purchase");
});
