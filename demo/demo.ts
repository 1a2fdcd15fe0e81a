import { ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FakeResend } from "../test/fakes/fake-resend";
import { FakeStripe } from "../test/fakes/fake-stripe";
import { colourAllowed } from "../src/terminal";

// `npm run demo`: a real pass of the real CLI against local fake Stripe and Resend servers.
// No keys, no network. The fake servers run in this process; paidup runs as a subprocess.

const ROOT = path.resolve(__dirname, "..", "..");
const BIN = path.join(ROOT, "bin", "paidup");
const STRIPE_KEY = "sk_test_demo_0000000000000000";
const RESEND_KEY = "re_demo_000000000000";

/** A heading: bold on a terminal, plain text when piped or with NO_COLOR (the CLI's rule). */
function section(title: string): void {
  const [bold, reset] = colourAllowed(process.stdout) ? ["\x1b[1m", "\x1b[0m"] : ["", ""];
  process.stdout.write(`\n${bold}== ${title}${reset}\n`);
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
    const app = stripe.addCharge({ amount: 1500, metadata: { product: "focus-app" }, billing_details: { email: "ed@example.com", name: "Ed" }, created: now - 400 });
    process.stdout.write("\nStripe (fake) now holds 6 charges: three to deliver (one sold with a license key),\none matching no product, one refunded, one from before the start line.\n");

    section("first pass: delivers three, flags the unmatched one");
    await paidup("reconcile");
    section("second pass: nothing new, nothing sent");
    await paidup("reconcile");
    section("what is stuck");
    await paidup("status", "--offline");

    section("emails the fake Resend received");
    for (const e of resend.sent) process.stdout.write(`  to ${String(e.to)}: "${e.subject}" (${e.idempotencyKey})\n`);
    process.stdout.write(`\n${resend.sent.length} emails sent in total.\n`);

    await licenseDemo(work, env, paidup, () => stripe.refund(app.id), resend.sentTo("ed@example.com")[0]?.text ?? "");
    await announceDemo(work, env, paidup, stripe, resend);
  } finally {
    await Promise.all([stripe.close(), resend.close()]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The license key Ed received: activated on serve's API, checked by the example client, then disabled by a refund. */
async function licenseDemo(work: string, env: Record<string, string | undefined>, paidup: (...args: string[]) => Promise<number | null>, refund: () => void, email: string): Promise<void> {
  const key = /license key: (\S+)/.exec(email)?.[1] ?? "";
  section("the license key in Ed's email");
  process.stdout.write(`  ${key}\n`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const serve: ChildProcess = spawn(process.execPath, [BIN, "serve", "--port", String(port)], { cwd: work, env: { ...env, STRIPE_WEBHOOK_SECRET: "whsec_demo" }, stdio: "ignore" });
  try {
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/healthz`).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const call = async (route: string, fields: Record<string, string>) => {
      const res = await fetch(`${base}/v1/licenses/${route}`, { method: "POST", body: new URLSearchParams(fields) });
      const body = (await res.json()) as { license_key?: { status: string; activation_usage: number; activation_limit: number } | null; error: string | null };
      process.stdout.write(`\n$ curl -d license_key=… ${Object.keys(fields).filter((f) => f !== "license_key").map((f) => `-d ${f}=${fields[f]} `).join("")}${base}/v1/licenses/${route}\n`);
      process.stdout.write(`  ${res.status}  status ${body.license_key?.status ?? "-"}, activations ${body.license_key?.activation_usage ?? "-"} of ${body.license_key?.activation_limit ?? "-"}${body.error ? `, error: ${body.error}` : ""}\n`);
    };
    section("serve answers the license API: Ed's app activates the key");
    await call("activate", { license_key: key, instance_name: "eds-laptop" });
    section("the example client (examples/license-client.mjs) validates once, then works offline");
    const client = (url: string) => new Promise<void>((resolve) => {
      process.stdout.write(`\n$ node examples/license-client.mjs ${url} ${key}\n`);
      const child = spawn(process.execPath, [path.join(ROOT, "examples", "license-client.mjs"), url, key], { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.on("data", (d: Buffer) => process.stdout.write(`  ${d.toString()}`));
      child.stderr.on("data", (d: Buffer) => process.stdout.write(`  ${d.toString()}`));
      child.on("close", () => resolve());
    });
    await client(base);
    process.stdout.write("\nThe same client again with the shop unreachable: the certificate it kept still verifies.\n");
    await client(`http://127.0.0.1:${await freePort()}`);
    section("Ed is refunded in full: the next pass reads Stripe's events and disables the key");
    refund();
    await paidup("reconcile");
    await call("validate", { license_key: key });
  } finally {
    serve.kill("SIGTERM");
  }
}

/** v2 of the skill pack: every buyer hears once, and one of them leaves with the one-click POST. */
async function announceDemo(work: string, env: Record<string, string | undefined>, paidup: (...args: string[]) => Promise<number | null>, stripe: FakeStripe, resend: FakeResend): Promise<void> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const configPath = path.join(work, "paidup.config.json");
  const config = JSON.parse(fs.readFileSync(configPath, "utf8")) as Record<string, unknown>;
  fs.writeFileSync(configPath, JSON.stringify({ ...config, publicUrl: base }, null, 2));
  const now = Math.floor(Date.now() / 1000);
  stripe.addCharge({ amount: 4900, metadata: { product: "ship-fast" }, billing_details: { email: "fay@example.com", name: "Fay" }, created: now - 300 });
  stripe.addCharge({ amount: 4900, metadata: { product: "ship-fast" }, billing_details: { email: "Ada@Example.com", name: "Ada L." }, created: now - 200 });
  section("two more buyers of the skill pack (Ada buys a second copy)");
  await paidup("reconcile", "--since", "1h");
  fs.writeFileSync(path.join(work, "v2.txt"), "Hi {{name}}, {{product}} v2 is out: three new skills.\nNo more updates? {{unsubscribe}}\n");
  const serve: ChildProcess = spawn(process.execPath, [BIN, "serve", "--port", String(port)], { cwd: work, env: { ...env, STRIPE_WEBHOOK_SECRET: "whsec_demo" }, stdio: "ignore" });
  try {
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${base}/healthz`).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    section("announce v2 to everyone who bought it: a dry run first, then for real, then again");
    const args = ["announce", "ship-fast", "--subject", "{{product}} v2", "--text", "v2.txt"];
    await paidup(...args, "--dry-run");
    await paidup(...args);
    await paidup(...args);
    const mails = resend.sent.filter((e) => e.batchKey !== undefined);
    for (const e of mails) process.stdout.write(`  to ${String(e.to)}: "${e.subject}" (batch ${e.batchKey})\n`);
    const fay = mails.find((e) => String(e.to) === "fay@example.com");
    const url = String((fay?.payload.headers as Record<string, string> | undefined)?.["List-Unsubscribe"] ?? "").slice(1, -1);
    section("Fay's mail app shows Unsubscribe: it POSTs List-Unsubscribe=One-Click to the header's URL (RFC 8058)");
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=One-Click" });
    process.stdout.write(`\n$ curl -d List-Unsubscribe=One-Click ${url.replace(/\/unsubscribe\/.*/, "/unsubscribe/…")}\n  ${res.status}\n`);
    await paidup("lookup", "fay@example.com");
    section("the next announcement leaves Fay out");
    fs.writeFileSync(path.join(work, "v2.1.txt"), "Hi {{name}}, a small fix in {{product}} 2.1.\n{{unsubscribe}}\n");
    await paidup("announce", "ship-fast", "--subject", "{{product}} 2.1", "--text", "v2.1.txt");
  } finally {
    serve.kill("SIGTERM");
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
