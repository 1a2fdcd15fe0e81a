import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { after, before, test } from "node:test";
import { createLedger } from "../src/ledger";
import { BUYER_CHARGES_SQL } from "../src/ledger/buyers";
import { recordEmailEvent } from "../src/pass/email-status";
import { resendCharge } from "../src/pass/resend-charge";
import { COURSE_PRODUCT, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { inProcess, InProcess } from "./helpers/in-process";
import { APP_PRODUCT, buyApp, keyIn, writeAppFiles } from "./helpers/license-shop";
import { BACKEND, DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";
import { cluster, freshDatabase, postgresAvailable, psql } from "./helpers/postgres";

// `paidup lookup <email>`: one buyer's whole story from the ledger alone. The charges are made
// by real passes in-process (the real SDKs against the fakes), a download through the real
// download route, a bounce through the same path as Resend's webhook, a correction through
// `resend --to`'s own operation and an announcement through the real CLI; then the real CLI's
// `lookup` reads that ledger.

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const PUBLIC_URL = "https://shop.example.com";
let shop: Shop;
let p: InProcess;
const ids: Record<string, string> = {};
let licenseKey = "";

before(async () => {
  shop = await Shop.start({
    config: { from: "Ship Shop <shop@example.com>", publicUrl: PUBLIC_URL, resend: { maxPerSecond: 100 }, products: [...DEFAULT_PRODUCTS, COURSE_PRODUCT, APP_PRODUCT] },
  });
  writeCourseFiles(shop.dir);
  writeAppFiles(shop.dir);
  const now = Date.now();
  const base = Math.floor(now / 1000) - 900;
  p = await inProcess(shop, { startLine: base - 10, nowMs: now });
  // Ada bought four times, under three spellings of her address, and once from a typo.
  ids.shipFast = shop.stripe.addCharge(paidCharge({ created: base, billing_details: { email: "ada@example.com", name: "Ada" } })).id;
  ids.course = shop.stripe.addCharge(paidCharge({ created: base + 10, metadata: { product: "course" }, billing_details: { email: "Ada@Example.com", name: "Ada" } })).id;
  ids.typo = shop.stripe.addCharge(paidCharge({ created: base + 20, billing_details: { email: "ada@exmaple.com", name: "Ada" } })).id;
  ids.app = buyApp(shop.stripe, now, "ADA@example.com").id;
  ids.other = shop.stripe.addCharge(paidCharge({ created: base + 30, billing_details: { email: "bob@example.com", name: "Bob" } })).id;
  await p.runPass();
  for (const id of Object.values(ids)) assert.equal((await p.row(id))?.state, "delivered", id);

  // The ship-fast email bounced (as Resend's webhook reports it).
  const bounced = await p.row(ids.shipFast as string);
  await recordEmailEvent(p.deps, { id: "evt_lookup_bounce", emailId: bounced?.email_id as string, type: "email.bounced", at: p.clock.now(), detail: "mailbox does not exist", source: "webhook" });
  // The course was downloaded once through its link.
  const server = await linkServer(p.deps);
  try {
    const mail = shop.resend.sentTo("Ada@Example.com").find((m) => m.text?.includes("course.bin"));
    const url = linksIn(mail?.text).get("course.bin") as string;
    const res = await fetch(url.replace(PUBLIC_URL, server.url));
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  } finally {
    await server.app.close();
  }
  // The typo was corrected with resend --to.
  await resendCharge(p.deps, ids.typo as string, "ada@example.com");
  licenseKey = keyIn(shop.resend.sentTo("ada@example.com").find((m) => /^Key: /m.test(m.text ?? ""))?.text);
  // An announcement to every buyer of ship-fast, through the real CLI on the same ledger.
  fs.writeFileSync(path.join(shop.dir, "news.txt"), "Hi {{name}}, v2 is out. {{unsubscribe}}\n");
  const announced = await shop.run(["announce", "ship-fast", "--subject", "v2", "--text", "news.txt", "--json"], { env: p.ledgerEnv });
  assert.equal(announced.code, 0, announced.stderr + announced.stdout);
  await p.ledger.unsubscribe("ada@example.com", "page", p.clock.now());
});
after(async () => {
  await p.close();
  await shop.close();
});

interface Charge {
  charge: string; state: string; email: string; product: string; downloads: number; licenses: { id: string; status: string; key: string; activation_limit: number; activation_usage: number; created_at: string; expires_at: string | null }[]; stripe: unknown;
  attempts: { outcome: string; emailId: string | null }[]; products: { key: string; state: string; emailId: string | null }[];
  emailEvents: { type: string; emailId: string }[];
}
interface Report { email: string; unsubscribed: boolean; charges: Charge[]; announcements: { announcement: string; product: string; at: string; emailId: string }[] }

async function lookup(address: string): Promise<Report> {
  const r = await shop.run(["lookup", address, "--json"], { env: p.ledgerEnv });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as Report;
}

test("lookup lists every charge of a buyer newest first, whatever the case of the address, in show's shape with downloads, license keys, announcements and unsubscribed", async () => {
  const r = await lookup("  ADA@EXAMPLE.COM ");
  assert.equal(r.email, "ada@example.com");
  assert.deepEqual(r.charges.map((c) => c.charge), [ids.app, ids.typo, ids.course, ids.shipFast], "newest first; Bob's charge is not hers");
  const byId = new Map(r.charges.map((c) => [c.charge, c]));

  const shipFast = byId.get(ids.shipFast as string) as Charge;
  assert.equal(shipFast.state, "bounced");
  assert.equal(shipFast.emailEvents.at(-1)?.type, "email.bounced");
  assert.equal(shipFast.stripe, null, "lookup reads the ledger alone");
  assert.equal(shipFast.downloads, 0);
  assert.deepEqual(shipFast.licenses, []);

  const course = byId.get(ids.course as string) as Charge;
  assert.equal(course.downloads, 1);
  assert.equal(course.products[0]?.key, "course");
  assert.ok(course.attempts.length >= 1 && course.attempts[0]?.emailId, "the attempt history, as show has it");

  // Each key in the license API's `license_key` shape.
  const licenses = byId.get(ids.app as string)?.licenses ?? [];
  assert.deepEqual(licenses.map((l) => l.key), [licenseKey]);
  assert.deepEqual(Object.keys(licenses[0] ?? {}), ["id", "status", "key", "activation_limit", "activation_usage", "created_at", "expires_at"]);
  assert.equal(licenses[0]?.status, "inactive");
  assert.equal(byId.get(ids.typo as string)?.email, "ada@example.com");

  assert.equal(r.unsubscribed, true);
  assert.equal(r.announcements.length, 1);
  assert.equal(r.announcements[0]?.product, "ship-fast");
  assert.match(r.announcements[0]?.at ?? "", /^\d{4}-\d\d-\d\dT/);
  assert.match(r.announcements[0]?.emailId ?? "", /\S/);

  // The same as show prints each charge, less Stripe's side.
  const show = await shop.run(["show", ids.course as string, "--json"], { env: { ...p.ledgerEnv, STRIPE_SECRET_KEY: undefined } });
  const shown = JSON.parse(show.stdout) as Record<string, unknown>;
  const { downloads: _d, licenses: _l, stripe: _s, stripeNote: _n, ...rest } = course as unknown as Record<string, unknown>;
  const { stripe: _s2, stripeNote: _n2, ...shownRest } = shown;
  assert.deepEqual(rest, shownRest);
});

test("a charge corrected with resend --to is found by either address", async () => {
  const byOld = await lookup("ada@exmaple.com");
  assert.deepEqual(byOld.charges.map((c) => c.charge), [ids.typo]);
  assert.equal(byOld.charges[0]?.email, "ada@example.com", "it now goes to the corrected address");
  assert.equal(byOld.unsubscribed, false);
  assert.ok((await lookup("ada@example.com")).charges.some((c) => c.charge === ids.typo));
});

test("lookup prints the buyer for a person to read: each charge with its emails' last status, downloads and keys", async () => {
  const r = await shop.run(["lookup", "ada@example.com"], { env: p.ledgerEnv });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^buyer {5}ada@example\.com {2}\(unsubscribed from announcements\)$/m);
  assert.match(r.stdout, /^charges {3}4, newest first$/m);
  assert.match(r.stdout, new RegExp(`^  ${ids.shipFast}  bounced  \\$49\\.00  ship-fast`, "m"));
  assert.match(r.stdout, /^ {4}email \S+ {2}ship-fast: bounced \(/m);
  assert.match(r.stdout, /^ {4}downloads 1$/m);
  assert.match(r.stdout, new RegExp(`^ {4}license ${licenseKey}$`, "m"));
  assert.match(r.stdout, /^announcements {2}1$/m);
});

test("an address with no charges is exit 0 with charges []; something that is not an address is exit 2 in one line, and lookup writes nothing", async () => {
  const before = digest();
  const none = await lookup("nobody@example.com");
  assert.deepEqual(none, { email: "nobody@example.com", unsubscribed: false, charges: [], announcements: [] });
  for (const bad of ["ada", "ada@", "ada@example", "a b@example.com", "ada@example.com,bob@example.com"]) {
    const r = await shop.run(["lookup", bad], { env: p.ledgerEnv });
    assert.equal(r.code, 2, `${bad}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length <= 2, true, r.stderr);
    assert.match(r.stderr, /is not an email address/);
    const j = await shop.run(["lookup", bad, "--json"], { env: p.ledgerEnv });
    assert.equal(j.code, 2);
    assert.equal((JSON.parse(j.stdout) as { error: { exitCode: number } }).error.exitCode, 2);
  }
  await lookup("ada@example.com");
  assert.equal(digest(), before, "every table as it was");
});

/** Every row of every table (SQLite; on PostgreSQL lookup's session is read-only by construction). */
function digest(): string | null {
  if (!p.ledgerEnv.PAIDUP_DB) return null;
  const db = new Database(p.ledgerEnv.PAIDUP_DB, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    const dump = tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).all()));
    return crypto.createHash("sha256").update(dump.join("\n")).digest("hex");
  } finally {
    db.close();
  }
}

test("lookup finds an address's charges through indexes (charges_by_email, charge_addresses_by_email), not a scan of every charge", async () => {
  const q = BUYER_CHARGES_SQL.replace(/\?/g, "'a@example.com'");
  if (BACKEND === "postgres") {
    assert.ok(postgresAvailable());
    const { url, name } = await freshDatabase();
    await (await createLedger({ dbPath: "unused.db", databaseUrl: url })).ledger.close();
    const plan = psql(await cluster(), `SET enable_seqscan = off; EXPLAIN ${q}`, name);
    assert.match(plan, /charges_by_email/, plan);
    assert.match(plan, /charge_addresses_by_email/, plan);
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-lookup-"));
  try {
    const dbPath = path.join(dir, "l.db");
    await (await createLedger({ dbPath })).ledger.close();
    const db = new Database(dbPath, { readonly: true });
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${q}`).all() as { detail: string }[]).map((r) => r.detail).join("; ");
    db.close();
    assert.match(plan, /charges USING INDEX charges_by_email/, plan);
    assert.match(plan, /USING (?:COVERING )?INDEX charge_addresses_by_email/, plan);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
