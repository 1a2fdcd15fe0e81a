// Pins the fake Stripe and Resend servers' behaviour using the REAL SDKs, so that the
// rest of the test suite can trust them as stand-ins for the providers.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import Stripe from "stripe";
import { Resend } from "resend";
import { FakeStripe, stripeClientOptions } from "./fakes/fake-stripe";
import { FakeResend, dailyQuotaFault } from "./fakes/fake-resend";
import { FIXED_FRACTIONAL, RESEND_LIKE } from "./fakes/rate-window";

const KEY = "sk_test_fake_right_1234";

async function withStripe(
  options: { apiKey?: string; clientKey?: string; retries?: number },
  fn: (fake: FakeStripe, stripe: Stripe) => Promise<void>,
): Promise<void> {
  const fake = new FakeStripe({ apiKey: options.apiKey ?? KEY });
  await fake.start();
  try {
    const stripe = new Stripe(options.clientKey ?? KEY, {
      ...stripeClientOptions(fake), maxNetworkRetries: options.retries ?? 0,
    });
    await fn(fake, stripe);
  } finally {
    await fake.close();
  }
}

async function withResend(
  options: ConstructorParameters<typeof FakeResend>[0] & { clientKey?: string },
  fn: (fake: FakeResend, resend: Resend) => Promise<void>,
): Promise<void> {
  const fake = new FakeResend({ apiKey: "re_right", ...options });
  await fake.start();
  try {
    process.env.RESEND_BASE_URL = fake.url; // read by the Resend constructor
    await fn(fake, new Resend(options.clientKey ?? "re_right"));
  } finally {
    delete process.env.RESEND_BASE_URL;
    await fake.close();
  }
}

const email = (over: Record<string, unknown> = {}) => ({
  from: "Shop <shop@example.com>", to: "buyer@example.com", subject: "Your download", text: "Here it is", ...over,
});

describe("FakeStripe with the stripe SDK", () => {
  test("auto-pagination visits each charge in the window once, newest first", async () => {
    await withStripe({}, async (fake, stripe) => {
      const base = 1_700_000_000;
      // Ties on `created` (three per second) must still page without loss or repeats.
      for (let i = 0; i < 250; i++) fake.addCharge({ created: base + Math.floor(i / 3) });
      fake.addCharge({ id: "ch_too_old", created: base - 1 });
      fake.addCharge({ id: "ch_too_new", created: base + 1000 });
      const seen: Stripe.Charge[] = [];
      for await (const c of stripe.charges.list({ created: { gte: base, lte: base + 999 }, limit: 100 })) seen.push(c);
      assert.equal(seen.length, 250);
      assert.equal(new Set(seen.map((c) => c.id)).size, 250);
      assert.ok(!seen.some((c) => c.id === "ch_too_old" || c.id === "ch_too_new"));
      for (let i = 1; i < seen.length; i++) assert.ok((seen[i - 1]?.created ?? 0) >= (seen[i]?.created ?? 0));
      assert.equal(fake.requestCount({ method: "GET", path: /^\/v1\/charges$/ }), 3);
    });
  });

  test("created[lte] is an inclusive upper bound; other filters; ending_before", async () => {
    await withStripe({}, async (fake, stripe) => {
      fake.addCharge({ id: "ch_a", created: 100 });
      fake.addCharge({ id: "ch_b", created: 200, customer: "cus_1" });
      fake.addCharge({ id: "ch_c", created: 201, payment_intent: "pi_1" });
      const ids = async (params: Stripe.ChargeListParams) => (await stripe.charges.list(params)).data.map((c) => c.id);
      assert.deepEqual(await ids({ created: { lte: 200 } }), ["ch_b", "ch_a"]);
      assert.deepEqual(await ids({ created: { gt: 100, lt: 201 } }), ["ch_b"]);
      assert.deepEqual(await ids({ customer: "cus_1" }), ["ch_b"]);
      assert.deepEqual(await ids({ payment_intent: "pi_1" }), ["ch_c"]);
      const page = await stripe.charges.list({ ending_before: "ch_a", limit: 1 });
      assert.deepEqual([page.data.map((c) => c.id), page.has_more], [["ch_b"], true]);
      await assert.rejects(stripe.charges.list({ limit: 101 }), { type: "StripeInvalidRequestError", statusCode: 400 });
      await assert.rejects(stripe.charges.list({ starting_after: "ch_nope" }),
        { type: "StripeInvalidRequestError", code: "resource_missing", statusCode: 400 });
    });
  });

  test("a wrong key gets a 401 whose message repeats the key's last characters", async () => {
    await withStripe({ clientKey: "sk_test_wrong_WXYZ" }, async (_fake, stripe) => {
      await assert.rejects(stripe.balance.retrieve(), (err: Stripe.errors.StripeError) => {
        assert.equal(err.type, "StripeAuthenticationError");
        assert.equal(err.statusCode, 401);
        assert.match(err.message, /WXYZ$/);
        return true;
      });
    });
  });

  test("retrieve, expand, checkout sessions and line items", async () => {
    await withStripe({}, async (fake, stripe) => {
      fake.addCustomer({ id: "cus_1", email: "c@example.com", name: "C" });
      fake.addCharge({ id: "ch_1", customer: "cus_1", payment_intent: "pi_1", billing_details: { email: "b@example.com" } });
      fake.addPaymentIntent({ id: "pi_1", latest_charge: "ch_1" });
      fake.addCheckoutSession({ id: "cs_1", payment_intent: "pi_1", payment_link: "plink_1",
        customer_details: { email: "s@example.com", name: "S" },
        line_items: [{ price: { id: "price_1", product: "prod_1" } }, { price: { id: "price_2", product: "prod_2" }, quantity: 2 }] });
      const charge = await stripe.charges.retrieve("ch_1");
      assert.deepEqual([charge.paid, charge.captured, charge.billing_details.email], [true, true, "b@example.com"]);
      fake.addCharge({ id: "ch_ach", status: "pending" });
      fake.updateCharge("ch_ach", { status: "succeeded" });
      const ach = await stripe.charges.retrieve("ch_ach");
      assert.deepEqual([ach.status, ach.paid, ach.captured], ["succeeded", true, true]);
      const listed = await stripe.charges.list({ expand: ["data.customer"] });
      assert.equal((listed.data.find((c) => c.id === "ch_1")?.customer as Stripe.Customer).email, "c@example.com");
      assert.equal((await stripe.paymentIntents.retrieve("pi_1")).latest_charge, "ch_1");
      const sessions = await stripe.checkout.sessions.list({ payment_intent: "pi_1" });
      assert.deepEqual(sessions.data.map((s) => s.payment_link), ["plink_1"]);
      const items: string[] = [];
      for await (const li of stripe.checkout.sessions.listLineItems("cs_1", { limit: 1 })) {
        items.push(`${String(li.price?.product)}x${li.quantity}`);
      }
      assert.deepEqual(items, ["prod_1x1", "prod_2x2"]);
      const withItems = await stripe.checkout.sessions.retrieve("cs_1", { expand: ["line_items"] });
      assert.equal(withItems.line_items?.data.length, 2);
      await assert.rejects(stripe.charges.retrieve("ch_missing"),
        { type: "StripeInvalidRequestError", code: "resource_missing", statusCode: 404 });
    });
  });

  test("429 carries Retry-After and is NOT retried by the SDK; 500 is", async () => {
    await withStripe({ retries: 1 }, async (fake, stripe) => {
      fake.addFault({ path: "/v1/balance", kind: "status", status: 429, headers: { "Retry-After": "3" } });
      await assert.rejects(stripe.balance.retrieve(), (err: Stripe.errors.StripeError) => {
        assert.equal(err.type, "StripeRateLimitError");
        assert.equal(err.headers?.["retry-after"], "3");
        return true;
      });
      assert.equal(fake.requestCount(), 1);
      fake.addFault({ path: "/v1/balance", kind: "status", status: 500 });
      await stripe.balance.retrieve();
      assert.equal(fake.requestCount(), 3);
    });
  });

  test("a reset connection is retried once even with maxNetworkRetries 0", async () => {
    await withStripe({ retries: 0 }, async (fake, stripe) => {
      fake.addFault({ kind: "reset", times: 1 });
      await stripe.balance.retrieve();
      assert.equal(fake.requestCount(), 2);
      fake.addFault({ kind: "reset", times: 2 });
      await assert.rejects(stripe.balance.retrieve(), { type: "StripeConnectionError" });
    });
  });

  test("invoice payments find a charge's invoice by its PaymentIntent (payment[type] required), with the invoice's lines, subscription and billing reason", async () => {
    await withStripe({}, async (fake, stripe) => {
      const sub = fake.addSubscription({ customer: "cus_1", items: [{ price: "price_m", product: "prod_m" }] });
      const inv = fake.addInvoice({ subscription: String(sub.id), billing_reason: "subscription_create", payment_intent: "pi_1", lines: [{ price: "price_m", product: "prod_m", amount: 900 }] });
      fake.addCharge({ id: "ch_1", payment_intent: "pi_1", amount: 900 });
      const charge = await stripe.charges.retrieve("ch_1");
      assert.equal((charge as unknown as Record<string, unknown>).invoice, undefined, "since 2025-03-31 a charge does not name its invoice");
      await assert.rejects(stripe.invoicePayments.list({ payment: { payment_intent: "pi_1" } as never }), /payment\[type\]/);
      const payments = await stripe.invoicePayments.list({ payment: { type: "payment_intent", payment_intent: "pi_1" }, expand: ["data.invoice"] });
      const [payment] = payments.data;
      assert.equal(payment?.object, "invoice_payment");
      assert.deepEqual(payment?.payment, { type: "payment_intent", payment_intent: "pi_1" });
      const invoice = payment?.invoice as Stripe.Invoice;
      assert.equal(invoice.id, inv.id);
      assert.equal(invoice.billing_reason, "subscription_create");
      assert.equal(invoice.parent?.subscription_details?.subscription, sub.id);
      assert.deepEqual(invoice.lines.data[0]?.pricing?.price_details, { price: "price_m", product: "prod_m" });
      assert.equal((await stripe.invoicePayments.list({ payment: { type: "payment_intent", payment_intent: "pi_other" } })).data.length, 0);
      const listed = await stripe.invoices.list({ subscription: String(sub.id), status: "paid" });
      assert.deepEqual(listed.data.map((i) => i.id), [inv.id]);
      assert.equal((await stripe.subscriptions.retrieve(String(sub.id))).start_date, sub.created);
    });
  });

  test("a Checkout Session in subscription mode has no payment_intent; its invoice names the first invoice", async () => {
    await withStripe({}, async (fake, stripe) => {
      fake.addCheckoutSession({ mode: "subscription", payment_intent: null, subscription: "sub_1", invoice: "in_1", line_items: [{ price: { id: "price_m", product: "prod_m" } }] });
      const [session] = (await stripe.checkout.sessions.list({ subscription: "sub_1" })).data;
      assert.deepEqual([session?.mode, session?.payment_intent, session?.invoice], ["subscription", null, "in_1"]);
      assert.equal((await stripe.checkout.sessions.list({ payment_intent: "pi_1" })).data.length, 0);
    });
  });

  test("bulkAddCharges keeps 100,000 charges listable newest first", async () => {
    await withStripe({}, async (fake, stripe) => {
      fake.bulkAddCharges(100_000, { amount: 500 });
      const first = await stripe.charges.list({ limit: 100 });
      const newest = fake.charges()[0];
      assert.equal(first.data[0]?.id, newest?.id);
      const next = await stripe.charges.list({ limit: 100, starting_after: first.data[99]?.id ?? "" });
      assert.equal(next.data[0]?.id, fake.charges()[100]?.id);
    });
  });
});

describe("FakeResend with the resend SDK", () => {
  test("a send returns data.id and is recorded", async () => {
    await withResend({}, async (fake, resend) => {
      const { data, error, headers } = await resend.emails.send(email());
      assert.equal(error, null);
      assert.match(data?.id ?? "", /^[0-9a-f-]{36}$/);
      assert.deepEqual(fake.sentTo("BUYER@example.com").map((e) => e.id), [data?.id]);
      assert.ok(headers?.["ratelimit-limit"]);
    });
  });

  test("same key + same payload replays the original answer without a second email", async () => {
    await withResend({}, async (fake, resend) => {
      const a = await resend.emails.send(email(), { idempotencyKey: "order-1" });
      const b = await resend.emails.send(email(), { idempotencyKey: "order-1" });
      assert.equal(b.data?.id, a.data?.id);
      assert.equal(fake.sent.length, 1);
      assert.equal(fake.sendsByKey().get("order-1"), 1);
      const c = await resend.emails.send(email({ subject: "changed" }), { idempotencyKey: "order-1" });
      assert.deepEqual([c.error?.name, c.error?.statusCode], ["invalid_idempotent_request", 409]);
    });
  });

  test("same key while the first is in progress gives concurrent_idempotent_requests", async () => {
    // The first is held until the second has come and gone (a fixed head start could lose the race on a busy machine).
    let open = () => undefined as void;
    await withResend({}, async (fake, resend) => {
      fake.addFault({ kind: "gate", processing: true, open: new Promise<void>((r) => (open = r)) });
      const first = resend.emails.send(email(), { idempotencyKey: "k" });
      while (!fake.keyInProgress("k")) await new Promise((r) => setTimeout(r, 5));
      const b = await resend.emails.send(email(), { idempotencyKey: "k" });
      open();
      const a = await first;
      assert.equal(a.error, null);
      assert.equal(b.error?.name, "concurrent_idempotent_requests");
      assert.equal(fake.sent.length, 1);
      assert.equal(fake.maxConcurrent, 2);
    });
  });

  test("the 24 h window follows the injected clock", async () => {
    let now = 1_000_000;
    await withResend({ now: () => now }, async (fake, resend) => {
      const a = await resend.emails.send(email(), { idempotencyKey: "k" });
      now += 23 * 3600_000;
      assert.equal((await resend.emails.send(email(), { idempotencyKey: "k" })).data?.id, a.data?.id);
      now += 2 * 3600_000; // 25 h after the first send
      const c = await resend.emails.send(email(), { idempotencyKey: "k" });
      assert.notEqual(c.data?.id, a.data?.id);
      assert.equal(fake.sendsByKey().get("k"), 2);
    });
  });

  test("over the rate: 429 rate_limit_exceeded with retry-after in the SDK's headers", async () => {
    await withResend({ ratePerSecond: 1 }, async (fake, resend) => {
      const a = await resend.emails.send(email());
      assert.deepEqual([a.headers?.["ratelimit-limit"], a.headers?.["ratelimit-remaining"]], ["1", "0"]);
      const b = await resend.emails.send(email());
      assert.deepEqual([b.error?.name, b.error?.statusCode], ["rate_limit_exceeded", 429]);
      assert.ok(Number(b.headers?.["retry-after"]) >= 1);
      fake.setRate(Infinity);
      assert.equal((await resend.emails.send(email())).error, null);
      fake.addFault(dailyQuotaFault());
      assert.equal((await resend.emails.send(email())).error?.name, "daily_quota_exceeded");
    });
  });

  test("Resend-like rate mode: a sliding second, ratelimit-reset in whole seconds", async () => {
    let now = 10_000;
    await withResend({ ratePerSecond: 2, rateMode: RESEND_LIKE, rateNow: () => now }, async (_fake, resend) => {
      const limits = (r: { headers?: Record<string, string> | null }) => [r.headers?.["ratelimit-remaining"], r.headers?.["ratelimit-reset"]];
      assert.deepEqual(limits(await resend.emails.send(email())), ["1", "1"]);
      now += 500;
      // Sending at exactly the limit: the window is full on this answer, reset says "1" (not 0.5).
      assert.deepEqual(limits(await resend.emails.send(email())), ["0", "1"]);
      now += 499;
      const refused = await resend.emails.send(email());
      assert.deepEqual([refused.error?.statusCode, refused.headers?.["retry-after"], refused.headers?.["ratelimit-reset"]], [429, "1", "1"]);
      now += 1; // the first send leaves the sliding window a second after it arrived
      assert.deepEqual(limits(await resend.emails.send(email())), ["0", "1"]);
    });
  });

  test("fixed rate mode: the count starts again at each second of the clock, reset to the millisecond", async () => {
    let now = 10_700;
    await withResend({ ratePerSecond: 2, rateMode: FIXED_FRACTIONAL, rateNow: () => now }, async (_fake, resend) => {
      const limits = (r: { headers?: Record<string, string> | null }) => [r.headers?.["ratelimit-remaining"], r.headers?.["ratelimit-reset"]];
      assert.deepEqual(limits(await resend.emails.send(email())), ["1", "0.300"]);
      assert.deepEqual(limits(await resend.emails.send(email())), ["0", "0.300"]);
      now += 250;
      assert.equal((await resend.emails.send(email())).error?.statusCode, 429);
      now += 50; // 11 000: a new window, though the first two are 300 ms old
      assert.deepEqual(limits(await resend.emails.send(email())), ["1", "1.000"]);
    });
  });

  test("reset-after-processing: the SDK sees application_error/null, yet the email went", async () => {
    await withResend({}, async (fake, resend) => {
      fake.addFault({ kind: "reset-after-processing" });
      const { error } = await resend.emails.send(email(), { idempotencyKey: "k" });
      assert.deepEqual([error?.name, error?.statusCode], ["application_error", null]);
      assert.equal(fake.sent.length, 1);
      // Retrying with the same key is then safe: the original answer, no new email.
      assert.equal((await resend.emails.send(email(), { idempotencyKey: "k" })).data?.id, fake.sent[0]?.id);
      assert.equal(fake.sent.length, 1);
    });
  });

  test("validation, keys, size limit and /domains", async () => {
    await withResend({}, async (fake, resend) => {
      const bad = await resend.emails.send(email({ to: "not-an-address" }));
      assert.deepEqual([bad.error?.name, bad.error?.statusCode], ["validation_error", 422]);
      assert.match(bad.error?.message ?? "", /Invalid `to` field/);
      const longKey = await resend.emails.send(email(), { idempotencyKey: "x".repeat(257) });
      assert.equal(longKey.error?.name, "invalid_idempotency_key");
      const big = await resend.emails.send(email({ attachments: [{ filename: "a.bin", content: "A".repeat(41 * 1024 * 1024) }] }));
      assert.deepEqual([big.error?.name, big.error?.statusCode], ["validation_error", 422]);
      assert.equal(fake.sent.length, 0);
      const domains = (await resend.domains.list()).data;
      assert.deepEqual(domains?.data.map((d) => [d.name, d.status]), [["example.com", "verified"]]);
    });
    await withResend({ clientKey: "re_wrong" }, async (_fake, resend) => {
      assert.deepEqual((await resend.domains.list()).error?.name, "invalid_api_key");
    });
    await withResend({ keyAccess: "sending" }, async (_fake, resend) => {
      assert.deepEqual((await resend.domains.list()).error?.statusCode, 401);
    });
  });

  test("a from address on a domain that is not verified, and a testing account writing to a stranger, get Resend's 403 validation_error", async () => {
    await withResend({ domains: [{ name: "example.com", status: "pending" }] }, async (fake, resend) => {
      const r = await resend.emails.send(email());
      assert.deepEqual([r.error?.name, r.error?.statusCode], ["validation_error", 403]);
      assert.match(r.error?.message ?? "", /The example\.com domain is not verified/);
      fake.domains[0] = { name: "example.com", status: "verified" };
      assert.ok((await resend.emails.send(email())).data?.id, "sends once the domain is verified");
    });
    await withResend({ testingOwner: "me@example.com" }, async (fake, resend) => {
      const r = await resend.emails.send(email({ to: "stranger@example.com" }));
      assert.deepEqual([r.error?.name, r.error?.statusCode], ["validation_error", 403]);
      assert.match(r.error?.message ?? "", /You can only send testing emails to your own email address \(me@example\.com\)/);
      assert.ok((await resend.emails.send(email({ to: "Me <me@example.com>" }))).data?.id);
      assert.equal(fake.sent.length, 1);
    });
  });

  test("close() ends hung and delayed requests", async () => {
    await withResend({}, async (fake, resend) => {
      fake.addFault({ kind: "hang" });
      fake.addFault({ kind: "delay", ms: 60_000 });
      const pending = [resend.emails.send(email()), resend.emails.send(email())];
      while (fake.requestCount() < 2) await new Promise((r) => setTimeout(r, 5));
      await fake.close();
      for (const p of await Promise.all(pending)) assert.equal(p.error?.statusCode, null);
    });
  });
});
