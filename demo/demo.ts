import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FakeResend } from "../test/fakes/fake-resend";
import { FakeStripe } from "../test/fakes/fake-stripe";

// `npm run demo`: a real pass of the real CLI against local fake Stripe and Resend servers.
// No keys, no network. The fake servers run in this process; paidup runs as a subprocess.

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "paidup");
const STRIPE_KEY = "sk_test_demo_0000000000000000";
const RESEND_KEY = "re_demo_000000000000";

function section(title: string): void {
  process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
}

async function main(): Promise<void> {
  const stripe = new FakeStripe({ apiKey: STRIPE_KEY });
  const resend = new FakeResend({ apiKey: RESEND_KEY });
  await Promise.all([stripe.start(), resend.start()]);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-demo-"));
  try {
    fs.cpSync(path.join(ROOT, "examples"), path.join(work, "examples"), { recursive: true });
    const config = JSON.parse(fs.readFileSync(path.join(ROOT, "paidup.config.example.json"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(work, "paidup.config.json"), JSON.stringify({ ...config, resend: { maxPerSecond: 10 } }, null, 2));

    const env = {
      PATH: process.env.PATH,
      STRIPE_SECRET_KEY: STRIPE_KEY,
      RESEND_API_KEY: RESEND_KEY,
      STRIPE_API_BASE: stripe.url,
      RESEND_BASE_URL: resend.url,
      LOG_LEVEL: "warn",
    };
    // Asynchronous on purpose: the fake servers live in this process and must keep answering.
    const paidup = (...args: string[]) =>
      new Promise<number | null>((resolve) => {
        process.stdout.write(`\n$ paidup ${args.join(" ")}\n`);
        const child = spawn(process.execPath, [BIN, ...args], { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.on("close", (code) => {
          process.stdout.write(`${out}(exit ${code})\n`);
          resolve(code);
        });
      });

    section("a new ledger, taking in the last day on purpose");
    await paidup("init", "--since", "1d");

    const now = Math.floor(Date.now() / 1000);
    stripe.addCharge({ amount: 4900, metadata: { product: "ship-fast" }, billing_details: { email: "ada@example.com", name: "Ada" }, created: now - 3000 });
    stripe.addCharge({ amount: 2500, payment_intent: "pi_demo_starter", billing_details: { email: null }, created: now - 2000 });
    stripe.addCheckoutSession({ payment_intent: "pi_demo_starter", customer_details: { email: "bo@example.com", name: "Bo" }, line_items: [{ price: { id: "price_123", product: "prod_starter" } }] });
    stripe.addCharge({ amount: 999, metadata: {}, billing_details: { email: "cy@example.com", name: "Cy" }, created: now - 1000 });
    stripe.addCharge({ amount: 4900, metadata: { product: "ship-fast" }, refunded: true, amount_refunded: 4900, billing_details: { email: "di@example.com" }, created: now - 500 });
    stripe.addCharge({ amount: 4900, metadata: { product: "ship-fast" }, billing_details: { email: "old@example.com" }, created: now - 3 * 86400 });
    process.stdout.write("\nStripe (fake) now holds 5 charges: two to deliver, one matching no product,\none refunded, one from before the start line.\n");

    section("first pass: delivers two, flags the unmatched one");
    await paidup("reconcile");
    section("second pass: nothing new, nothing sent");
    await paidup("reconcile");
    section("what is stuck");
    await paidup("status", "--offline");

    section("emails the fake Resend received");
    for (const e of resend.sent) process.stdout.write(`  to ${String(e.to)}: "${e.subject}" (${e.idempotencyKey})\n`);
    process.stdout.write(`\n${resend.sent.length} emails sent in total.\n`);
  } finally {
    await Promise.all([stripe.close(), resend.close()]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
