import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { announcementsByAddress, writeAnnouncement } from "./helpers/announce-shop";
import { courseConfig, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { BIN, Shop } from "./helpers/shop";

// A product sold as download links: its announcement carries fresh links of its own (not the
// purchase email's), issued once per buyer and stored, whose expiry runs from when Resend
// accepted the announcement; and an address that unsubscribes after the audience was taken is
// skipped by the rest of the run.

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: courseConfig() });
  writeCourseFiles(shop.dir);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  const base = Math.floor(Date.now() / 1000) - 60;
  for (const [i, email] of ["reader1@example.com", "reader2@example.com"].entries()) {
    shop.stripe.addCharge({ amount: 9900, currency: "usd", created: base + i, metadata: { product: "course" }, billing_details: { email, name: `Reader ${i + 1}` } });
  }
  assert.equal((await shop.run(["reconcile"])).code, 0);
});
after(async () => shop.close());

test("an announcement of a product with downloads carries fresh links, whose 7 days run from Resend's acceptance", async () => {
  const files = writeAnnouncement(shop, "course-v2", "Hi {{name}}, chapter 3 is rewritten.\n{{#downloads}}{{name}}: {{url}} (until {{expires}})\n{{/downloads}}{{unsubscribe}}\n");
  const started = Date.now();
  const r = await shop.run(["announce", "course", "--subject", "{{product}}: chapter 3", "--text", files.text, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const mail = announcementsByAddress(shop).get("reader1@example.com")?.[0];
  const purchase = shop.resend.sentTo("reader1@example.com").find((m) => m.batchKey === undefined);
  const fresh = linksIn(mail?.text);
  assert.deepEqual([...fresh.keys()], ["course.bin", "workbook.pdf"]);
  for (const [file, url] of linksIn(purchase?.text)) assert.notEqual(fresh.get(file), url, `${file}: a new link, not the purchase's`);
  const id = (JSON.parse(r.stdout) as { announcement: string }).announcement;
  const rows = shop.query<{ source: string; created_at: number; expires_at: number }>(`SELECT source, created_at, expires_at FROM download_links WHERE source = 'a:${id}' ORDER BY charge_id, file_index`);
  assert.equal(rows.length, 4, "two files for each of the two buyers");
  const accepted = Number(shop.query<{ at: number }>(`SELECT max(sent_at) AS at FROM announcement_recipients WHERE announcement_id = '${id}'`)[0]?.at);
  for (const row of rows) {
    assert.equal(Number(row.created_at), accepted, "expiry runs from when Resend accepted it");
    assert.equal(Number(row.expires_at) - Number(row.created_at), 7 * 86_400_000);
    assert.ok(Number(row.created_at) >= started);
  }
});

test("an address that unsubscribes after the audience was taken is skipped and counted unsubscribed", async () => {
  const files = writeAnnouncement(shop, "meanwhile", "Hi {{name}}. {{unsubscribe}}\n");
  const args = ["announce", "course", "--subject", "Meanwhile", "--text", files.text, "--json"];
  // The audience is taken and the first batch fails for certain (nothing sent): the run ends.
  shop.resend.addFault({ method: "POST", path: "/emails/batch", times: 1, kind: "status", status: 403, body: { statusCode: 403, name: "validation_error", message: "The example.com domain is not verified." } });
  const first = await shop.run(args);
  assert.equal(first.code, 1, first.stderr);
  assert.equal((JSON.parse(first.stdout) as { failed: number }).failed, 2);
  shop.exec("INSERT INTO unsubscribes (email, at, source) VALUES ('reader2@example.com', 1, 'one-click')");
  const r = await shop.run(args);
  assert.equal(r.code, 0, r.stderr);
  const json = JSON.parse(r.stdout) as { recipients: number; sent: number; excluded: { unsubscribed: number } };
  assert.deepEqual([json.recipients, json.sent, json.excluded.unsubscribed], [1, 1, 1]);
  const got = [...announcementsByAddress(shop)].filter(([, l]) => l.some((m) => m.subject === "Meanwhile")).map(([to]) => to);
  assert.deepEqual(got, ["reader1@example.com"]);
});

const hasScript = spawnSync("script", ["--version"]).status === 0;

test("progress is drawn on a terminal and nothing but the summary is printed on a pipe", { skip: hasScript ? false : "script(1) is not installed" }, async () => {
  const files = writeAnnouncement(shop, "progress", "Hi {{name}}. {{unsubscribe}}\n");
  const args = ["announce", "course", "--subject", "Progress", "--text", files.text];
  const tty = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const command = [process.execPath, BIN, ...args].map((a) => JSON.stringify(a)).join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { cwd: shop.dir, env: shop.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
  assert.equal(tty.code, 0, tty.out);
  assert.match(tty.out, /\d+\/\d+ emailed \| 100%/, "a progress bar on the terminal");
  const files2 = writeAnnouncement(shop, "progress-pipe", "Hi again {{name}}. {{unsubscribe}}\n");
  const piped = await shop.run(["announce", "course", "--subject", "Progress", "--text", files2.text]);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stderr, "", "nothing on stderr when piped");
  assert.equal(piped.stdout.trim().split("\n").length, 1, "one summary line");
});
