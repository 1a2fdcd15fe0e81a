import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { announcementsByAddress, deliverTo, headersOf, PUBLIC_URL, writeAnnouncement } from "./helpers/announce-shop";
import { Shop } from "./helpers/shop";

// `paidup announce` through the real CLI against the fakes: the audience rules, the JSON and
// the exit codes, the headers of RFC 8058, and a batch whose answer was lost.

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { publicUrl: PUBLIC_URL } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());
afterEach(() => shop.resend.clearFaults());

interface Counts {
  announcement: string; product: string; recipients: number; sent: number; alreadySent: number; failed: number; unknown: number;
  excluded: { unsubscribed: number; bounced: number; refunded: number }; dryRun?: boolean;
}

async function announce(args: string[]): Promise<{ code: number | null; json: Counts; stderr: string }> {
  const r = await shop.run(["announce", ...args, "--json"]);
  return { code: r.code, json: JSON.parse(r.stdout) as Counts, stderr: r.stderr };
}

test("every past buyer hears once: one email per address (case-insensitive), left out and counted by the rules, named from the newest charge", async () => {
  const ids = await deliverTo(shop, [
    { email: "ada@example.com", name: "Ada Old" },
    { email: "ADA@example.com", name: "Ada New" }, // the same buyer, bought twice
    { email: "bob@example.com", name: "Bob" },
    { email: "refunded@example.com", name: "Rita" },
    { email: "half@example.com", name: "Half" }, // one refunded purchase, one good one
    { email: "half@example.com", name: "Half" },
    { email: "unsub@example.com", name: "Una" },
    { email: "bounced@example.com", name: "Bea" },
    { email: "typo@exmaple.com", name: "Tim" }, // corrected with resend --to below
  ]);
  shop.stripe.refund(ids[3] as string);
  shop.stripe.refund(ids[4] as string);
  assert.ok([0, 1].includes((await shop.run(["reconcile", "--since", "1h"])).code as number));
  assert.equal((await shop.run(["resend", ids[8] as string, "--to", "tim@example.com"])).code, 0);
  shop.exec("INSERT INTO unsubscribes (email, at, source) VALUES ('unsub@example.com', 1, 'page')");
  shop.exec(`UPDATE charges SET state = 'bounced' WHERE id = '${ids[7]}'`);

  const files = writeAnnouncement(shop, "v2", "Hi {{name}}, {{product}} v2 is out for {{email}}.\nLeave: {{unsubscribe}}\n", "<p>Hi {{name}}</p><a href=\"{{unsubscribe}}\">unsubscribe</a>");
  const r = await announce(["ship-fast", "--subject", "{{product}} v2", "--text", files.text, "--html", files.html as string]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.json.announcement, /^ann_[0-9a-f]{20}$/);
  assert.deepEqual({ ...r.json, announcement: "" }, {
    announcement: "", product: "ship-fast", recipients: 4, sent: 4, alreadySent: 0, failed: 0, unknown: 0,
    excluded: { unsubscribed: 1, bounced: 1, refunded: 1 },
  });
  const mails = announcementsByAddress(shop);
  assert.deepEqual([...mails.keys()].sort(), ["ada@example.com", "bob@example.com", "half@example.com", "tim@example.com"]);
  for (const [to, list] of mails) assert.equal(list.length, 1, to);
  const ada = mails.get("ada@example.com")?.[0];
  assert.equal(ada?.subject, "Ship Fast Skill Pack v2");
  assert.match(ada?.text ?? "", /^Hi Ada New, Ship Fast Skill Pack v2 is out for ada@example.com\./);
  const url = headersOf(ada as never)["List-Unsubscribe"];
  assert.match(url ?? "", new RegExp(`^<${PUBLIC_URL}/unsubscribe/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+>$`));
  assert.equal(headersOf(ada as never)["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
  assert.ok(ada?.text?.includes(`Leave: ${url?.slice(1, -1)}`), "{{unsubscribe}} is the header's URL");
  assert.ok(ada?.html?.includes(`href="${url?.slice(1, -1)}"`));
  assert.equal(ada?.attachments.length, 0, "announcements carry no attachments");

  // The same command again resumes the same announcement: nothing left to send.
  const again = await announce(["ship-fast", "--subject", "{{product}} v2", "--text", files.text, "--html", files.html as string]);
  assert.equal(again.code, 0);
  assert.deepEqual([again.json.announcement, again.json.sent, again.json.alreadySent], [r.json.announcement, 0, 4]);
  assert.equal(announcementsByAddress(shop).get("ada@example.com")?.length, 1);
});

test("--dry-run prints the audience, start or resume, and one rendered sample, and writes nothing", async () => {
  const files = writeAnnouncement(shop, "dry", "Hello {{name}}: {{unsubscribe}}\n");
  const before = shop.ledgerSnapshot();
  const sentBefore = shop.resend.sent.length;
  const text = await shop.run(["announce", "ship-fast", "--subject", "News", "--text", files.text, "--dry-run"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^dry run \(nothing sent, nothing written\): would start announcement ann_[0-9a-f]{20} of ship-fast: 4 recipient\(s\); left out: 1 unsubscribed, 1 bounced, 1 refunded$/m);
  assert.match(text.stdout, /sample, to ada@example\.com:\n {2}Subject: News\n {2}Hello Ada New: https:\/\/shop\.example\.com\/unsubscribe\//);
  const json = await announce(["ship-fast", "--subject", "News", "--text", files.text, "--dry-run"]);
  assert.deepEqual([json.code, json.json.dryRun, json.json.recipients, json.json.sent], [0, true, 4, 0]);
  assert.equal(shop.ledgerSnapshot(), before, "the ledger is unchanged");
  assert.equal(shop.resend.sent.length, sentBefore, "nothing sent");
  // Once run, a dry run of the same command says it would resume.
  assert.equal((await announce(["ship-fast", "--subject", "News", "--text", files.text])).code, 0);
  const resumed = await shop.run(["announce", "ship-fast", "--subject", "News", "--text", files.text, "--dry-run"]);
  assert.match(resumed.stdout, /would resume announcement ann_\w+ of ship-fast: 4 recipient\(s\), 0 not yet emailed/);
});

test("an unknown product, a missing file, an unknown placeholder, {{downloads}} without downloads and no publicUrl are exit 2 with nothing written", async () => {
  const ok = writeAnnouncement(shop, "ok", "Hi {{name}}\n");
  const typo = writeAnnouncement(shop, "typo", "Hi {{nmae}}\n");
  const dl = writeAnnouncement(shop, "dl", "{{#downloads}}{{url}}{{/downloads}}\n");
  const before = shop.ledgerSnapshot();
  const cases: [string[], RegExp][] = [
    [["nope", "--subject", "x", "--text", ok.text], /no product "nope"/],
    [["ship-fast", "--subject", "x", "--text", ok.text + ".missing"], /--text .* cannot be read \(no such file\)/],
    [["ship-fast", "--subject", "x", "--text", typo.text], /uses \{\{nmae\}\}, which an announcement does not have/],
    [["ship-fast", "--subject", "Hi {{first_name}}", "--text", ok.text], /--subject uses \{\{first_name\}\}/],
    [["ship-fast", "--subject", "x", "--text", dl.text], /uses \{\{downloads\}\}/],
    [["ship-fast", "--text", ok.text], /required option '--subject <text>'/],
  ];
  for (const [args, message] of cases) {
    const r = await shop.run(["announce", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split("\n").filter((l) => !l.startsWith("  hint:")).length, 1, `one line: ${r.stderr}`);
  }
  const config = JSON.parse(JSON.stringify({ from: "Shop <shop@example.com>", products: [{ key: "ebook", match: { amount: 1900, currency: "usd" }, subject: "s", text: "templates/ebook.txt" }] }));
  const saved = shop.configPath;
  const fs = await import("node:fs");
  const original = fs.readFileSync(saved, "utf8");
  shop.writeConfig(config);
  try {
    const r = await shop.run(["announce", "ebook", "--subject", "x", "--text", ok.text, "--dry-run"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /announcements need publicUrl/);
  } finally {
    fs.writeFileSync(saved, original);
  }
  assert.equal(shop.ledgerSnapshot(), before);
});

test("a batch whose answer was lost is replayed under the same key with the same body: no address gets two emails", async () => {
  await deliverTo(shop, [{ email: "lost1@example.com" }, { email: "lost2@example.com" }]);
  shop.resend.addFault({ method: "POST", path: "/emails/batch", times: 1, kind: "reset-after-processing" });
  const files = writeAnnouncement(shop, "lost", "Fixed chapter 3, {{name}}. {{unsubscribe}}\n");
  const before = shop.resend.requests.length;
  const r = await announce(["ship-fast", "--subject", "Chapter 3 fixed", "--text", files.text]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.sent, 6);
  const batches = shop.resend.requests.slice(before).filter((q) => q.path === "/emails/batch");
  assert.equal(batches.length, 2, "the first answer was lost, the replay got it");
  assert.equal(batches[0]?.idempotencyKey, batches[1]?.idempotencyKey);
  for (const [to, list] of announcementsByAddress(shop)) {
    assert.equal(list.filter((m) => m.subject === "Chapter 3 fixed").length <= 1, true, to);
  }
  assert.equal(shop.resend.batchEmailsByKey().get(batches[0]?.idempotencyKey as string), 6);
});

test("one address Resend refuses does not hold back the others in its batch: they are sent, it is failed (exit 1) and retried by a re-run", async () => {
  shop.resend.refuseAddress("bob@example.com");
  const files = writeAnnouncement(shop, "refuse", "Bonus video, {{name}}. {{unsubscribe}}\n");
  const r = await announce(["ship-fast", "--subject", "Bonus video", "--text", files.text]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual([r.json.recipients, r.json.sent, r.json.failed], [6, 5, 1]);
  assert.match(r.stderr, /1 recipient\(s\) not emailed because sends failed/);
  const got = [...announcementsByAddress(shop)].filter(([, l]) => l.some((m) => m.subject === "Bonus video")).map(([to]) => to).sort();
  assert.deepEqual(got, ["ada@example.com", "half@example.com", "lost1@example.com", "lost2@example.com", "tim@example.com"]);
  shop.resend.refusedAddresses.clear();
  const again = await announce(["ship-fast", "--subject", "Bonus video", "--text", files.text]);
  assert.deepEqual([again.code, again.json.sent, again.json.alreadySent, again.json.failed], [0, 1, 5, 0]);
});

test("a purchase disputed after delivery leaves its buyer out until the shop wins the dispute", async () => {
  const [won, lost] = await deliverTo(shop, [{ email: "won@example.com", name: "Win" }, { email: "lost@example.com", name: "Loss" }]);
  const d1 = shop.stripe.dispute(won as string);
  shop.stripe.dispute(lost as string);
  assert.ok([0, 1].includes((await shop.run(["reconcile", "--since", "1h"])).code as number));
  const files = writeAnnouncement(shop, "disputes", "Update, {{name}}. {{unsubscribe}}\n");
  const before = await announce(["ship-fast", "--subject", "Dispute check", "--text", files.text, "--dry-run"]);
  shop.stripe.closeDispute(String(d1.id), "won");
  assert.ok([0, 1].includes((await shop.run(["reconcile", "--since", "1h"])).code as number));
  const r = await announce(["ship-fast", "--subject", "Dispute check", "--text", files.text]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.excluded.refunded, before.json.excluded.refunded - 1, "the won dispute no longer leaves its buyer out");
  const got = [...announcementsByAddress(shop)].filter(([, l]) => l.some((m) => m.subject === "Dispute check")).map(([to]) => to);
  assert.ok(got.includes("won@example.com"));
  assert.ok(!got.includes("lost@example.com"));
});

test("a 422 that is not about one recipient (a bad from) stops the run after one request instead of splitting the batch down to single emails", async () => {
  shop.resend.addFault({ method: "POST", path: "/emails/batch", times: 1, kind: "status", status: 422, body: { statusCode: 422, name: "invalid_from_address", message: "Invalid `from` field." } });
  const files = writeAnnouncement(shop, "badfrom", "Hi {{name}}. {{unsubscribe}}\n");
  const before = shop.resend.requests.filter((q) => q.path === "/emails/batch").length;
  const r = await announce(["ship-fast", "--subject", "Bad from", "--text", files.text]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.json.failed, r.json.recipients);
  assert.equal(r.json.sent, 0);
  assert.equal(shop.resend.requests.filter((q) => q.path === "/emails/batch").length - before, 1, "one request, no splitting");
});
