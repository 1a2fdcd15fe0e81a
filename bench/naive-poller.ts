import fs from "node:fs";
import { Resend } from "resend";
import Stripe from "stripe";

// The reference the bench compares paidup with: what most small shops write. Every poll lists
// EVERY charge with the SDK's auto-pagination (given the benefit of limit 100; the SDK default
// is 10 a page), and checks each id against a JSON file of the ids it has processed.
// Env: STRIPE_SECRET_KEY, STRIPE_API_BASE, RESEND_API_KEY, RESEND_BASE_URL, NAIVE_PROCESSED (path).

function stripeFromEnv(): Stripe {
  const base = new URL(process.env.STRIPE_API_BASE ?? "https://api.stripe.com");
  return new Stripe(process.env.STRIPE_SECRET_KEY ?? "", {
    host: base.hostname,
    port: Number(base.port || (base.protocol === "http:" ? 80 : 443)),
    protocol: base.protocol === "http:" ? "http" : "https",
  });
}

async function main(): Promise<void> {
  const file = process.env.NAIVE_PROCESSED ?? "processed.json";
  const processed = new Set<string>(fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as string[]) : []);
  const stripe = stripeFromEnv();
  const resend = new Resend(process.env.RESEND_API_KEY);
  let seen = 0;
  let sent = 0;
  for await (const charge of stripe.charges.list({ limit: 100 })) {
    seen++;
    if (processed.has(charge.id) || charge.status !== "succeeded" || charge.refunded) continue;
    const to = charge.billing_details?.email ?? charge.receipt_email;
    if (!to) continue;
    const { error } = await resend.emails.send({ from: "Shop <shop@example.com>", to, subject: "Your purchase", text: `Thanks! Ref ${charge.id}` });
    if (error) continue;
    processed.add(charge.id);
    sent++;
  }
  if (sent > 0) fs.writeFileSync(file, JSON.stringify([...processed]));
  process.stdout.write(`seen ${seen}, sent ${sent}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
