import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { paidCharge, Shop } from "./helpers/shop";

// Amounts are shown with Stripe's decimal places per currency, not Intl's: for HUF, IDR, ISK,
// COP, PKR and LAK Intl says 0 where Stripe's amounts carry 2, which showed them 100× too large.
// Emails, alerts and `status` all go through one formatter.

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { alertTo: "owner@example.com" } });
  assert.equal((await shop.run(["init", "--since", "1h"])).code, 0);
});
after(async () => shop.close());

// Intl puts a no-break space between a currency code and the number.
const plain = (s: string | undefined) => (s ?? "").replace(/\u00a0/g, " ");

const cases = [
  { currency: "huf", amount: 150000, shown: "HUF 1,500" },
  { currency: "isk", amount: 500, shown: "ISK 5" },
  { currency: "idr", amount: 15000000, shown: "IDR 150,000" },
  { currency: "cop", amount: 2000000, shown: "COP 20,000" },
  { currency: "pkr", amount: 250000, shown: "PKR 2,500" },
  { currency: "lak", amount: 10000000, shown: "LAK 100,000" },
  { currency: "jpy", amount: 4900, shown: "¥4,900" },
  { currency: "ugx", amount: 5000, shown: "UGX 5,000" },
  { currency: "bhd", amount: 1234, shown: "BHD 1.234" },
  { currency: "usd", amount: 4900, shown: "$49.00" },
];

test("the buyer's email shows the amount in Stripe's decimal places for every currency", async () => {
  const charges = cases.map((c) => ({ ...c, charge: shop.stripe.addCharge(paidCharge({ amount: c.amount, currency: c.currency, created: shop.stripe.nowSeconds() - 30, billing_details: { email: `${c.currency}@example.com`, name: "Ada" } })) }));
  const r = await shop.run(["reconcile"]);
  assert.equal(r.code, 0, r.stderr);
  for (const c of charges) {
    const email = shop.resend.sent.find((s) => s.idempotencyKey === `paidup-${c.charge.id}`);
    assert.ok(plain(email?.text).includes(`for ${c.shown}.`), `${c.currency}: ${email?.text}`);
  }
});

test("status and the alert show a stuck charge's amount the same way", async () => {
  // No product matches: it goes to needs_review and is alerted.
  const stuck = shop.stripe.addCharge(paidCharge({ amount: 150000, currency: "huf", metadata: {}, created: shop.stripe.nowSeconds() - 20 }));
  assert.equal((await shop.run(["reconcile"])).code, 1);
  const alert = shop.resend.sentTo("owner@example.com").at(-1);
  assert.match(plain(alert?.text), new RegExp(`${stuck.id}\\s+needs_review\\s+HUF 1,500\\s`));
  const status = await shop.run(["status", "--offline"]);
  assert.match(plain(status.stdout), new RegExp(`${stuck.id}\\s+needs_review.*HUF 1,500\\s`));
  const show = await shop.run(["show", stuck.id]);
  assert.match(plain(show.stdout), /amount\s+HUF 1,500\n/);
});
