import assert from "node:assert/strict";
import { test } from "node:test";
import { Resend } from "resend";
import { systemClock } from "../src/clock";
import { BatchMailer } from "../src/delivery/batch-mailer";
import { Mailer } from "../src/delivery/mailer";
import { FakeResend } from "./fakes/fake-resend";

// An announcement and the deliveries share one pacer (and Resend's allowance): the announcement
// holds one batch at a time, so a delivery that asks for its turn mid-announcement goes out
// after at most the one batch ahead of it, never after the rest of the list.

const KEY = "re_pacer_test";
const emails = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => ({ from: "Shop <shop@example.com>", to: [`b${from + i}@example.com`], subject: "v2", text: "v2 is out" }));

test("a delivery asking for its turn during an announcement waits behind at most one batch, and Resend admits no more than its 5/s", async () => {
  const fake = new FakeResend({ apiKey: KEY, ratePerSecond: 5, latencyMs: 100 });
  await fake.start();
  try {
    const mailer = Mailer.create(KEY, systemClock, 5, fake.url);
    const batches = new BatchMailer(new Resend(KEY, { baseUrl: fake.url }), mailer.pacer, systemClock);
    const announcing = (async () => {
      // As run.ts sends them: one batch in hand, the next claimed only after it is committed.
      for (let i = 0; i < 8; i++) assert.equal((await batches.send(emails(100, i * 100), `ann-b${i}`)).ok, true);
    })();
    const batchCount = () => fake.requests.filter((r) => r.path === "/emails/batch").length;
    while (batchCount() < 3) await new Promise((r) => setTimeout(r, 5));
    const askedAt = fake.requests.length;
    await mailer.waitTurn();
    const sent = await mailer.send({ from: "Shop <shop@example.com>", to: "buyer@example.com", subject: "Your pack", text: "Here it is" }, "paidup-ch_pacer");
    assert.equal(sent.ok, true);
    await announcing;
    const since = fake.requests.slice(askedAt);
    const delivery = since.findIndex((r) => r.path === "/emails");
    assert.ok(delivery >= 0);
    const ahead = since.slice(0, delivery).filter((r) => r.path === "/emails/batch").length;
    assert.ok(ahead <= 1, `${ahead} batches went out between the delivery's request for a turn and its send`);
    // Resend admitted at most its 5 a second (a 429 on a busy box is waited out, never lost).
    const admitted = fake.requests.filter((r) => (r.path === "/emails/batch" || r.path === "/emails") && r.status === 200).map((r) => r.rateAt).sort((a, b) => a - b);
    for (let i = 5; i < admitted.length; i++) assert.ok((admitted[i] as number) - (admitted[i - 5] as number) >= 1000, "six admitted within a second");
    assert.equal(fake.sent.length, 801);
  } finally {
    await fake.close();
  }
});
