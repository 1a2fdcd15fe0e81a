import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS } from "../src/ledger/sqlite/migrations";
import { APPLICATION_ID } from "../src/ledger/sqlite/open";
import { Shop, SQLITE_ONLY } from "./helpers/shop";

// A ledger written by paidup 1 (schema 1: one delivery per charge, on the charge row) opened by
// this version: each charge's delivery becomes the record of its one product, under the key it
// was sent with, so nothing delivered is sent again and a pending re-send stays byte-identical.

let shop: Shop;
before(async () => {
  shop = await Shop.start();
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);

test("a v1 ledger's single delivery becomes its product's record: delivered stays delivered, a pending re-send keeps its key and payload", { skip: SQLITE_ONLY }, async () => {
  const created = now() - 60;
  const delivered = shop.stripe.addCharge({ id: "ch_v1_done", amount: 4900, currency: "usd", metadata: { product: "ship-fast" }, created, billing_details: { email: "done@example.com" } });
  const pending = shop.stripe.addCharge({ id: "ch_v1_pending", amount: 1900, currency: "usd", created, billing_details: { email: "pending@example.com" } });
  // The payload the v1 pass stored with its first (unanswered) try: the re-send must be exactly it.
  const stored = { from: "Shop <shop@example.com>", to: "pending@example.com", subject: "Your ebook", text: "Your ebook, as rendered by v1.\n", attachments: [] };
  const t = Date.now();

  fs.mkdirSync(path.dirname(shop.dbPath), { recursive: true });
  const v1 = new Database(shop.dbPath);
  v1.pragma(`application_id = ${APPLICATION_ID}`);
  v1.exec(MIGRATIONS[0] as string);
  v1.pragma("user_version = 1");
  const meta = v1.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
  meta.run("start_line", String(created - 3600));
  meta.run("watermark", String(created - 3600));
  meta.run("mode", "test");
  v1.prepare(
    `INSERT INTO charges (id, state, created, amount, currency, email, product, attempts, email_id, state_since, updated_at)
     VALUES (?, 'delivered', ?, 4900, 'usd', 'done@example.com', 'ship-fast', 1, 'em_v1_done', ?, ?)`,
  ).run(delivered.id, created, t, t);
  v1.prepare(
    `INSERT INTO charges (id, state, reason, created, amount, currency, email, product, attempts, failed_sends, next_attempt_at,
       first_sent_at, outcome_unknown, payload, state_since, updated_at)
     VALUES (?, 'retrying', 'network error or timeout talking to Resend', ?, 1900, 'usd', 'pending@example.com', 'ebook', 1, 1, 0, ?, 1, ?, ?, ?)`,
  ).run(pending.id, created, t - 60_000, JSON.stringify(stored), t, t);
  v1.prepare("INSERT INTO attempts (charge_id, at, outcome, email_id) VALUES (?, ?, 'delivered', 'em_v1_done')").run(delivered.id, t);
  v1.close();

  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr + r.stdout);

  const db = new Database(shop.dbPath, { readonly: true });
  const rows = db.prepare("SELECT charge_id, product, position, send_key, state, email_id, attempts FROM deliveries ORDER BY charge_id").all();
  const version = db.pragma("user_version", { simple: true });
  db.close();
  assert.equal(version, MIGRATIONS.length);
  const sent = shop.resend.sent.find((s) => s.idempotencyKey === `paidup-${pending.id}`);
  assert.deepEqual(rows, [
    { charge_id: delivered.id, product: "ship-fast", position: 0, send_key: `paidup-${delivered.id}`, state: "delivered", email_id: "em_v1_done", attempts: 1 },
    { charge_id: pending.id, product: "ebook", position: 0, send_key: `paidup-${pending.id}`, state: "delivered", email_id: sent?.id, attempts: 2 },
  ]);
  assert.equal(shop.resend.sent.length, 1, "the delivered charge was not sent again");
  assert.equal(sent?.text, stored.text, "the pending one went out with the payload v1 stored");

  const show = await shop.run(["show", delivered.id, "--json"]);
  assert.deepEqual(JSON.parse(show.stdout).products, [{ key: "ship-fast", state: "delivered", emailId: "em_v1_done" }]);
});
