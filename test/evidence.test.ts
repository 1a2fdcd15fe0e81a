import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createLedger } from "../src/ledger";
import { COURSE_BYTES, courseConfig, linkServer, linksIn, writeCourseFiles } from "./helpers/downloads-shop";
import { inProcess, InProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";

// `paidup evidence` through the real CLI, on a ledger where a real pass delivered a course and
// its links were downloaded through the real routes.

const PUBLIC = "https://shop.example.com";
let shop: Shop;
let p: InProcess;
let server: Awaited<ReturnType<typeof linkServer>>;
let charge: string;

before(async () => {
  shop = await Shop.start({ config: courseConfig(PUBLIC) });
  writeCourseFiles(shop.dir);
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
  charge = shop.stripe.addCharge({ amount: 9900, currency: "usd", created: Math.floor(Date.now() / 1000) - 5, metadata: { product: "course" }, billing_details: { email: "proof@example.com", name: "Ada" } }).id;
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  // The CLI's own ledger, opened in this process to serve the links the CLI rendered.
  p = await inProcess(shop);
  await p.close();
  const { ledger } = await createLedger({ dbPath: shop.dbPath, databaseUrl: shop.databaseUrl });
  p = { ...p, ledger, deps: { ...p.deps, ledger } };
  server = await linkServer(p.deps);
  const url = linksIn(shop.resend.sentTo("proof@example.com")[0]?.text).get("course.bin") as string;
  await (await fetch(url.replace(PUBLIC, server.url), { headers: { "user-agent": "Mozilla/5.0 (Buyer)" } })).arrayBuffer();
  for (let i = 0; i < 100 && (await ledger.downloadRequests(charge)).length === 0; i++) await new Promise((r) => setImmediate(r));
});
after(async () => {
  await server.app.close();
  await p.ledger.close();
  await shop.close();
});

test("evidence --json has the email Resend accepted, its last status, and every download with IP and user agent", async () => {
  const r = await shop.run(["evidence", charge, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout);
  assert.equal(e.charge, charge);
  assert.equal(e.email, "proof@example.com");
  assert.equal(e.emails.length, 1);
  assert.equal(e.emails[0].kind, "delivery");
  assert.equal(e.emails[0].to, "proof@example.com");
  assert.equal(e.emails[0].lastStatus, "delivered");
  assert.equal(e.emails[0].emailId, shop.resend.sentTo("proof@example.com")[0]?.id);
  assert.equal(e.serviceDate, e.emails[0].at);
  assert.deepEqual(e.downloads.map((d: Record<string, unknown>) => [d.file, d.status, d.bytes, d.counted, d.ip, d.userAgent]), [["course.bin", 200, COURSE_BYTES, true, "127.0.0.1", "Mozilla/5.0 (Buyer)"]]);
});

test("evidence without --json prints the access activity log", async () => {
  const r = await shop.run(["evidence", charge]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /access activity log/);
  assert.match(r.stdout, /GET course\.bin {2}HTTP 200 {2}300000 bytes {2}IP 127\.0\.0\.1 {2}Mozilla\/5\.0 \(Buyer\)/);
});

test("evidence of an unknown charge is exit 2", async () => {
  const r = await shop.run(["evidence", "ch_unknown"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no charge ch_unknown/);
});

test("evidence --attach saves a draft on the open dispute with the access log, email and service date", async () => {
  const dispute = shop.stripe.dispute(charge);
  const r = await shop.run(["evidence", charge, "--attach"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`saved as draft evidence on dispute ${String(dispute.id)}`));
  const update = shop.stripe.eventLog.disputeUpdates.at(-1);
  assert.equal(update?.id, dispute.id);
  assert.equal(update?.body.submit, "false");
  assert.equal(update?.body["evidence[customer_email_address]"], "proof@example.com");
  assert.match(update?.body["evidence[service_date]"] ?? "", /^\d{4}-\d\d-\d\d$/);
  assert.match(update?.body["evidence[access_activity_log]"] ?? "", /GET course\.bin {2}HTTP 200/);
});

test("evidence --attach with a read-only key is a clear exit 2 and writes nothing", async () => {
  const readOnly = "rk_test_ReadOnlyKeyForEvidence0000wxyz";
  shop.stripe.readOnlyKeys.add(readOnly);
  const before = shop.stripe.eventLog.disputeUpdates.length;
  const r = await shop.run(["evidence", charge, "--attach"], { env: { STRIPE_SECRET_KEY: readOnly } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /may not write to disputes/);
  assert.doesNotMatch(r.stderr + r.stdout, /ReadOnlyKeyForEvidence/);
  assert.equal(shop.stripe.eventLog.disputeUpdates.length, before);
});

test("evidence takes Resend's last status from its recorded webhook events before asking Resend", async () => {
  const emailId = shop.resend.sentTo("proof@example.com")[0]?.id as string;
  await p.ledger.recordEmailEvent({ id: "msg_evidence_1", emailId, type: "email.complained", at: Date.now(), detail: null, source: "webhook" }, Date.now());
  shop.resend.resetCounters();
  const r = await shop.run(["evidence", charge, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).emails[0].lastStatus, "complained");
  assert.equal(shop.resend.requestCount({ method: "GET", path: `/emails/${emailId}` }), 0);
});
