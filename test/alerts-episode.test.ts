import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";
import { inProcess } from "./helpers/in-process";

// One alert per stuck episode, and every alert names what actually gets the charge out: real
// passes (runPass, as the CLI runs them) in-process on a ManualClock against the fakes.

process.env.NODE_ENV = "production"; // keeps the Resend SDK's console.error quiet

const OWNER = "owner@example.com";
const COURSE = {
  key: "course", match: { metadata: { product: "course" } }, subject: "Your course",
  text: "templates/ship-fast.txt", attachments: ["products/course.zip"],
};

let shop: Shop;
before(async () => {
  shop = await Shop.start({
    config: { alertTo: OWNER, retry: { maxAttempts: 6, delays: ["1m"] }, products: [...DEFAULT_PRODUCTS, COURSE] },
  });
  fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(1024, 1));
});
after(async () => shop.close());
beforeEach(() => shop.resend.clearFaults());

const base = Math.floor(Date.now() / 1000) - 1000;
let seq = 0;
async function setup(extra: Record<string, unknown> = {}) {
  seq++;
  const c = shop.stripe.addCharge(paidCharge({ id: `ch_episode_${seq}`, created: base + seq * 10, billing_details: { email: `e${seq}@example.com`, name: "E" }, ...extra }));
  return { c, p: await inProcess(shop, { startLine: c.created }) };
}
const alertsAbout = (id: string) => shop.resend.sentTo(OWNER).filter((e) => (e.text ?? "").includes(id));
const emailsFor = (id: string) => shop.resend.sendsByKey().get(`paidup-${id}`) ?? 0;
/** The charge's next send answers 500; the alert after it goes through. */
const failNextSend = () => shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: 1 });

test("a charge whose sends fail on five passes in a row is alerted once, not once per failed retry", async () => {
  const { p, c } = await setup();
  try {
    for (let i = 0; i < 5; i++) {
      failNextSend();
      await p.runPass();
      assert.equal((await p.row(c.id))?.state, "retrying", `pass ${i + 1}`);
      p.clock.advance(61_000);
    }
    assert.equal((await p.row(c.id))?.attempts, 5);
    assert.equal(alertsAbout(c.id).length, 1, "one stuck episode, one alert");
    assert.match(alertsAbout(c.id)[0]?.text ?? "", /retries it on its own, up to 6 attempts; if they all fail it waits in needs_review/);

    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "delivered");
    assert.equal(emailsFor(c.id), 1);
    assert.equal(alertsAbout(c.id).length, 1);
  } finally {
    await p.close();
  }
});

test("giving up after the last attempt sends nothing more; put back with retry and stuck again, it is alerted once more", async () => {
  const { p, c } = await setup();
  try {
    for (let i = 0; i < 6; i++) {
      failNextSend();
      await p.runPass();
      p.clock.advance(61_000);
    }
    assert.equal((await p.row(c.id))?.state, "needs_review");
    assert.match((await p.row(c.id))?.reason ?? "", /^gave up after 6 attempts/);
    assert.equal(alertsAbout(c.id).length, 1, "retrying then giving up is one episode");

    assert.ok(await p.ledger.requeue(c.id, "Resend fixed", p.clock.now()));
    failNextSend();
    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "retrying");
    assert.equal(alertsAbout(c.id).length, 2, "stuck again after retry: a new episode");
    p.clock.advance(61_000);
    failNextSend();
    await p.runPass();
    assert.equal(alertsAbout(c.id).length, 2);
  } finally {
    await p.close();
  }
});

test("the outcome-unknown alert names resolve, and a retry that may send a second email; that retry then really sends", async () => {
  const { p, c } = await setup();
  try {
    // A process claimed it and died mid-send; no pass ran for a day.
    const payload = JSON.stringify({ from: "Shop <shop@example.com>", to: "e@example.com", subject: "Your Ship Fast Skill Pack", text: "hi", attachments: [] });
    await p.ledger.claim({ id: c.id, created: c.created, amount: c.amount, currency: c.currency, email: "e@example.com" }, [{ product: "ship-fast", payload }], "dead:1", p.clock.now());
    p.clock.advance(25 * 3_600_000);
    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "needs_review");
    const text = alertsAbout(c.id)[0]?.text ?? "";
    assert.match(text, new RegExp(`why: outcome of send unknown`));
    assert.match(text, new RegExp(`If they have it: paidup resolve ${c.id} --note`));
    assert.match(text, new RegExp(`paidup retry ${c.id} sends it again; Resend's 24 h idempotency window is over, so that can be a second email`));

    assert.ok(await p.ledger.requeue(c.id, "the buyer has nothing", p.clock.now()));
    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "delivered", "retry sends it; it does not go straight back to review");
    assert.equal(emailsFor(c.id), 1);
  } finally {
    await p.close();
  }
});

test("a product file changed after a send that may have arrived: the alert says to restore it within Resend's 24 h window, or resolve", async () => {
  const { p, c } = await setup({ metadata: { product: "course" } });
  try {
    // A process claimed it, sent, and died before Resend's answer: whether the email went out is unknown.
    const file = path.join(shop.dir, "products", "course.zip");
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    const payload = JSON.stringify({ from: "Shop <shop@example.com>", to: "e@example.com", subject: "Your course", text: "hi", attachments: [{ filename: "course.zip", path: file, sha256 }] });
    await p.ledger.claim({ id: c.id, created: c.created, amount: c.amount, currency: c.currency, email: "e@example.com" }, [{ product: "course", payload }], "dead:1", p.clock.now());
    assert.equal(alertsAbout(c.id).length, 0);

    fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(1024, 2));
    p.clock.advance(6 * 60_000); // past the dead process's claim
    await p.runPass();
    const row = (await p.row(c.id));
    assert.equal(row?.state, "needs_review");
    const text = alertsAbout(c.id)[0]?.text ?? "";
    const windowEnds = new Date((row?.first_sent_at ?? 0) + 24 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    assert.match(text, /course\.zip changed since the first send/);
    assert.ok(text.includes(`Put the original file back (the bytes of the first send) before ${windowEnds}, then paidup retry ${c.id}`), text);
    assert.ok(text.includes(`If the buyer has it: paidup resolve ${c.id} --note`), text);

    fs.writeFileSync(path.join(shop.dir, "products", "course.zip"), Buffer.alloc(1024, 1));
    assert.ok(await p.ledger.requeue(c.id, "file restored", p.clock.now()));
    await p.runPass();
    assert.equal((await p.row(c.id))?.state, "delivered");
    assert.equal(emailsFor(c.id), 1, "Resend recognised the repeat: one email");
  } finally {
    await p.close();
  }
});
