import assert from "node:assert/strict";
import { after, test } from "node:test";
import { DEFAULT_PRODUCTS, paidCharge, Shop, ShopOptions } from "./helpers/shop";

// Resend refusing a send for a reason only the operator can fix (FACTS.md, wave 2): the charge
// goes to needs_review with Resend's own message and what to do; a key Resend refuses stays exit 2;
// a `from` Resend could never accept stops every sending command before anything changes.

const shops: Shop[] = [];
after(async () => Promise.all(shops.map((s) => s.close())));

async function shopWith(opts: ShopOptions = {}): Promise<Shop> {
  const shop = await Shop.start(opts);
  shops.push(shop);
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
  return shop;
}

const now = () => Math.floor(Date.now() / 1000);

test("a from domain Resend has not verified puts each charge in needs_review with Resend's message and the fix, not 'key rejected'", async () => {
  const shop = await shopWith({ resendDomains: [{ name: "example.com", status: "pending" }] });
  const a = shop.stripe.addCharge(paidCharge({ created: now() - 20 }));
  const b = shop.stripe.addCharge(paidCharge({ created: now() - 10, billing_details: { email: "second@example.com" } }));
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 1, "stuck charges, not a configuration error: " + r.stderr);
  assert.doesNotMatch(r.stdout + r.stderr, /rejected RESEND_API_KEY/);
  for (const c of [a, b]) {
    const row = shop.row(c.id);
    assert.equal(row?.state, "needs_review", "the pass did not stop at the first charge");
    assert.match(row?.reason ?? "", /validation_error \(403\): The example\.com domain is not verified/, "Resend's message is kept");
    assert.match(row?.reason ?? "", /to fix: verify the domain of the `from` address in Resend/);
  }
  assert.match(r.stdout, /The example\.com domain is not verified.*to fix: verify the domain/);

  shop.resend.domains[0] = { name: "example.com", status: "verified" };
  for (const c of [a, b]) assert.equal((await shop.run(["retry", c.id])).code, 0);
  const fixed = await shop.run(["reconcile"]);
  assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
  assert.deepEqual([shop.row(a.id)?.state, shop.row(b.id)?.state], ["delivered", "delivered"]);
});

test("a Resend testing account writing to a buyer puts the charge in needs_review saying to verify a domain", async () => {
  const shop = await shopWith({ resendTestingOwner: "owner@example.com" });
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 10 }));
  const r = await shop.run(["reconcile", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout) as { needsReview: number; undelivered: { charge: string; reason: string }[] };
  assert.equal(out.needsReview, 1);
  assert.equal(out.undelivered[0]?.charge, c.id);
  assert.match(out.undelivered[0]?.reason ?? "", /You can only send testing emails to your own email address/);
  assert.match(out.undelivered[0]?.reason ?? "", /to fix: this Resend account can only send test emails to its owner: verify a domain/);
});

test("a key Resend really refuses is still exit 2, and the charge is put back in line", async () => {
  const shop = await shopWith();
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 10 }));
  const r = await shop.run(["reconcile"], { env: { RESEND_API_KEY: "re_NotTheKeyResendKnows_1" } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Resend rejected RESEND_API_KEY \(invalid_api_key\)/);
  assert.notEqual(shop.row(c.id)?.state, "needs_review");
});

test("check fails when the from domain is not verified in Resend, or not one of the team's domains", async () => {
  const shop = await shopWith({ resendDomains: [{ name: "example.com", status: "pending" }] });
  const pending = await shop.run(["check"]);
  assert.equal(pending.code, 2, pending.stdout);
  assert.match(pending.stdout, /^✗ from domain: example\.com is pending in Resend, not verified: Resend refuses every email from it; verify it at resend\.com\/domains/m);
  shop.resend.domains.splice(0, 1, { name: "other.example", status: "verified" });
  const absent = await shop.run(["check"]);
  assert.equal(absent.code, 2);
  assert.match(absent.stdout, /^✗ from domain: example\.com is not one of this Resend team's domains/m);
  shop.resend.domains.splice(0, 1, { name: "example.com", status: "verified" });
  assert.match((await shop.run(["check"])).stdout, /^✓ from domain: example\.com verified in Resend$/m);
});

test("an invalid from stops reconcile, its dry run and serve with exit 2 before anything is sent or written", async () => {
  const shop = await shopWith();
  shop.stripe.addCharge(paidCharge({ created: now() - 10 }));
  shop.writeConfig({ from: "Shop", resend: { maxPerSecond: 100 }, alertTo: "owner@example.com", products: DEFAULT_PRODUCTS });
  const before = shop.ledgerSnapshot();
  for (const args of [["reconcile"], ["reconcile", "--dry-run"], ["serve", "--port", "0"], ["daemon"]]) {
    const r = await shop.run(args, { env: { STRIPE_WEBHOOK_SECRET: "whsec_test_secret_for_serve" } });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /from address: "Shop" is not an address/);
  }
  assert.equal(shop.resend.requestCount({ method: "POST" }), 0, "nothing was sent, not even an alert");
  assert.equal(shop.ledgerSnapshot(), before, "the ledger is unchanged");
});
