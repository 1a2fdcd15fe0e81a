import assert from "node:assert/strict";
import { test } from "node:test";
import { Resend } from "resend";
import { FakeResend } from "./fakes/fake-resend";

// The fake's POST /emails/batch, through the real SDK's batch.send: what the announcement sender
// relies on (FACTS.md, wave 3): one Idempotency-Key per batch, ids in order, strict validation,
// 1–100 emails, one rate-limit slot per request.

async function withFake(options: ConstructorParameters<typeof FakeResend>[0], fn: (fake: FakeResend, resend: Resend) => Promise<void>): Promise<void> {
  const fake = new FakeResend({ apiKey: "re_right", ...options });
  await fake.start();
  try {
    await fn(fake, new Resend("re_right", { baseUrl: fake.url }));
  } finally {
    await fake.close();
  }
}

const emails = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ from: "Shop <shop@example.com>", to: `b${from + i}@example.com`, subject: "v2 is out", text: `Hi ${from + i}` }));

test("a batch answers one id per email in the order sent, and the SDK sends the key as Idempotency-Key", async () => {
  await withFake({}, async (fake, resend) => {
    const r = await resend.batch.send(emails(3), { idempotencyKey: "ann-1" });
    assert.equal(r.error, null);
    const ids = r.data?.data.map((d) => d.id) ?? [];
    assert.equal(ids.length, 3);
    assert.deepEqual(ids, ["b0", "b1", "b2"].map((b) => fake.sentTo(`${b}@example.com`)[0]?.id));
    assert.equal(fake.requests.at(-1)?.idempotencyKey, "ann-1");
    assert.equal(fake.batchEmailsByKey().get("ann-1"), 3);
    assert.ok(r.headers?.["ratelimit-limit"]);
  });
});

test("the same key and body replay the original ids without new emails; another body under the key is 409", async () => {
  await withFake({}, async (fake, resend) => {
    const a = await resend.batch.send(emails(2), { idempotencyKey: "ann-2" });
    const b = await resend.batch.send(emails(2), { idempotencyKey: "ann-2" });
    assert.deepEqual(b.data, a.data);
    assert.equal(fake.sent.length, 2);
    const c = await resend.batch.send(emails(2, 5), { idempotencyKey: "ann-2" });
    assert.deepEqual([c.error?.name, c.error?.statusCode], ["invalid_idempotent_request", 409]);
  });
});

test("one refused address fails the whole strict batch with 422 and sends none; permissive sends the rest", async () => {
  await withFake({}, async (fake, resend) => {
    fake.refuseAddress("b1@example.com");
    const strict = await resend.batch.send(emails(3), { idempotencyKey: "ann-3" });
    assert.deepEqual([strict.error?.name, strict.error?.statusCode], ["validation_error", 422]);
    assert.match(strict.error?.message ?? "", /^emails\[1\]: /);
    assert.equal(fake.sent.length, 0);
    // An error answer is not remembered: the key is free for a corrected batch.
    const again = await resend.batch.send(emails(1), { idempotencyKey: "ann-3" });
    assert.equal(again.error, null);
    const permissive = await resend.batch.send(emails(3), { idempotencyKey: "ann-4", batchValidation: "permissive" });
    assert.equal(permissive.data?.data.length, 2);
    assert.deepEqual((permissive.data as unknown as { errors: { index: number }[] }).errors.map((e) => e.index), [1]);
  });
});

test("a batch of 0 or 101 emails, or one with attachments, is 422", async () => {
  await withFake({}, async (fake, resend) => {
    assert.equal((await resend.batch.send([])).error?.statusCode, 422);
    assert.equal((await resend.batch.send(emails(101))).error?.statusCode, 422);
    assert.equal((await resend.batch.send(emails(100))).error, null);
    const withFile = [{ ...emails(1)[0], attachments: [{ filename: "a.txt", content: "aGk=" }] }];
    assert.equal((await resend.batch.send(withFile as never)).error?.statusCode, 422);
    assert.equal(fake.sent.length, 100);
  });
});

test("a batch takes one slot of the rate limit and a 429 carries retry-after", async () => {
  await withFake({ ratePerSecond: 2 }, async (_fake, resend) => {
    assert.equal((await resend.batch.send(emails(50))).error, null);
    const second = await resend.batch.send(emails(50, 50));
    assert.equal(second.error, null);
    assert.equal(second.headers?.["ratelimit-remaining"], "0");
    const third = await resend.batch.send(emails(1, 100));
    assert.deepEqual([third.error?.name, third.error?.statusCode], ["rate_limit_exceeded", 429]);
    assert.ok(third.headers?.["retry-after"]);
  });
});
