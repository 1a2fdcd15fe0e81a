import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromiumAvailable, launchBrowser, TestBrowser } from "./helpers/browser";
import { COURSE_BYTES, courseConfig, writeCourseFiles } from "./helpers/downloads-shop";
import { BIN, Shop } from "./helpers/shop";
import { PATIENCE_MS } from "./helpers/wait";

// The buyers' page in a real browser against the real `paidup serve`: Chromium opens the page,
// fills in the form, follows the link the fake Resend received, and downloads the file.

const SECRET = "whsec_test_paidup_webhook_secret_000";
let shop: Shop;
let serve: ChildProcess;
let base: string;
let browser: TestBrowser;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(check: () => T | undefined, what: string, ms = PATIENCE_MS): Promise<T> {
  const started = Date.now();
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  shop = await Shop.start({ config: courseConfig(base) });
  writeCourseFiles(shop.dir);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  shop.stripe.addCharge({ amount: 9900, currency: "usd", created: Math.floor(Date.now() / 1000) - 5, metadata: { product: "course" }, billing_details: { email: "reader@example.com", name: "Ada" } });
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  serve = spawn(process.execPath, [BIN, "serve", "--port", String(port)], { cwd: shop.dir, env: { ...shop.env, STRIPE_WEBHOOK_SECRET: SECRET }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  serve.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  await until(() => out.includes("listening on"), "serve listening");
});
after(async () => {
  await browser?.close();
  serve.kill("SIGTERM");
  await new Promise((r) => serve.once("exit", r));
  await shop.close();
});

test("the real serve answers other methods on /downloads and /d/ with 405", async () => {
  assert.equal((await fetch(`${base}/downloads`, { method: "DELETE" })).status, 405);
  assert.equal((await fetch(`${base}/d/anything`, { method: "POST" })).status, 405);
});

test("a buyer in Chromium asks for links on the page, follows the emailed link and downloads the file", { skip: !chromiumAvailable() && "no /usr/bin/chromium" }, async () => {
  browser = await launchBrowser();
  const page = await browser.context.newPage();
  await page.goto(`${base}/downloads`);
  assert.equal(await page.title(), "Your downloads: Ship Shop");
  await page.getByLabel("Email address").fill("Reader@Example.com");
  await page.getByRole("button", { name: "Email me my links" }).click();
  await page.getByRole("status").waitFor();
  assert.match(await page.getByRole("status").innerText(), /Check your inbox/);
  await page.screenshot({ path: path.join(browser.outDir, "buyers-page.png"), fullPage: true });

  const mail = await until(() => shop.resend.sentTo("reader@example.com").find((m) => m.subject === "Your downloads from Ship Shop"), "the buyers' page email");
  const link = /href="([^"]+\/d\/[^"]+)">course\.bin</.exec(mail.html ?? "")?.[1] as string;
  assert.ok(link?.startsWith(`${base}/d/`), `link in the email: ${link}`);

  const mailPage = await browser.context.newPage();
  await mailPage.setContent(mail.html ?? "");
  const [download] = await Promise.all([mailPage.waitForEvent("download"), mailPage.getByRole("link", { name: "course.bin" }).click()]);
  assert.equal(download.suggestedFilename(), "course.bin");
  const saved = path.join(browser.outDir, "course.bin");
  await download.saveAs(saved);
  assert.equal(fs.statSync(saved).size, COURSE_BYTES);
  await mailPage.screenshot({ path: path.join(browser.outDir, "email.png") });
  assert.ok(fs.statSync(path.join(browser.outDir, "buyers-page.png")).size > 1000, "a screenshot was saved");
  process.stdout.write(`# screenshots in ${browser.outDir}\n`);
});
