import fs from "node:fs";
import { Resend } from "resend";
import Stripe from "stripe";

// The HTTP floor of a first delivery pass: the same Stripe list pages and one Resend send per
// charge, through the same SDKs with paidup's client options and a payload of the same shape,
// sequentially and with no pacing, no ledger, no templates. paidup's CPU minus this one's is
// paidup's own cost. Env: as paidup's, plus FLOOR_GTE (unix seconds), FLOOR_ATTACHMENT (path) and
// FLOOR_INTERVAL_MS: sends spaced like paidup's pacer (a process that sleeps between requests
// spends more CPU per request than one in a tight loop: timers, colder caches).

async function main(): Promise<void> {
  const base = new URL(process.env.STRIPE_API_BASE ?? "https://api.stripe.com");
  const stripe = new Stripe(process.env.STRIPE_SECRET_KEY ?? "", {
    host: base.hostname,
    port: Number(base.port),
    protocol: "http",
    timeout: 20_000,
    maxNetworkRetries: 2,
    telemetry: false,
  });
  const resend = new Resend(process.env.RESEND_API_KEY);
  const attachment = fs.readFileSync(process.env.FLOOR_ATTACHMENT ?? "");
  const gte = Number(process.env.FLOOR_GTE);
  const lte = Math.floor(Date.now() / 1000);
  let startingAfter: string | undefined;
  let sent = 0;
  const interval = Number(process.env.FLOOR_INTERVAL_MS ?? 0);
  let nextSlot = 0;
  for (;;) {
    const page = await stripe.charges.list({ created: { gte, lte }, limit: 100, starting_after: startingAfter });
    for (const charge of page.data) {
      if (interval > 0) {
        const now = Date.now();
        const at = Math.max(now, nextSlot);
        nextSlot = at + interval;
        if (at > now) await new Promise((r) => setTimeout(r, at - now));
      }
      const to = charge.billing_details?.email ?? "";
      const { error } = await resend.emails.send(
        { from: "Shop <shop@example.com>", to, replyTo: "help@example.com", subject: "Your Ship Fast Skill Pack", text: `Hi ${charge.billing_details?.name ?? ""}, ref ${charge.id}.\n`, attachments: [{ filename: "ship-fast.zip", content: attachment }] },
        { idempotencyKey: `floor-${charge.id}`, signal: AbortSignal.timeout(30_000) },
      );
      if (error) throw new Error(error.message);
      sent++;
    }
    const last = page.data[page.data.length - 1];
    if (!page.has_more || !last) break;
    startingAfter = last.id;
  }
  process.stdout.write(`sent ${sent}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
