import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { inProcess } from "./helpers/in-process";
import { DEFAULT_PRODUCTS, Shop } from "./helpers/shop";

// With several products per charge, a bounce of any of its emails makes the charge bounced.

const COURSE = {
  key: "course", name: "Course", match: { price: "price_course" }, subject: "Your course",
  text: "templates/ship-fast.txt", attachments: ["products/course.zip"],
};

let shop: Shop;
before(async () => {
  shop = await Shop.start({ config: { products: [...DEFAULT_PRODUCTS, COURSE] } });
  fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(1024, 9));
});
after(async () => shop.close());

test("a bounce of the second product's email makes a two-product charge bounced", async () => {
  const p = await inProcess(shop);
  try {
    const c = shop.stripe.addCharge({ amount: 9900, currency: "usd", payment_intent: "pi_two", created: Math.floor(p.clock.now() / 1000) - 10, billing_details: { email: "two@example.com", name: "Two" } });
    shop.stripe.addCheckoutSession({ payment_intent: "pi_two", line_items: [{ price: { id: "price_course", product: "prod_course" } }, { price: { id: "price_starter", product: "prod_starter" } }] });
    await p.runPass();
    const deliveries = await p.deps.ledger.deliveries(c.id);
    assert.equal(deliveries.length, 2);
    assert.equal((await p.row(c.id))?.state, "delivered");
    const second = deliveries.find((d) => d.position === 1)?.email_id as string;
    shop.resend.lastEvents.set(second, "bounced");
    p.clock.advance(6 * 60_000);
    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "bounced");
    assert.equal((await p.deps.ledger.emailEventsOf(c.id)).filter((e) => e.email_id === second).length, 1);
  } finally {
    await p.close();
  }
});
