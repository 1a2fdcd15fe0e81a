import fs from "node:fs";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { WorkQueue } from "../../src/http/event-queue";
import { buildApp } from "../../src/http/server";
import type { PassDeps } from "../../src/pass/pass-deps";
import { stripeClient } from "../../src/stripe/stripe-source";
import type { FakeStripe } from "../fakes/fake-stripe";
import { DEFAULT_PRODUCTS, STRIPE_KEY } from "./shop";

// A shop selling an app with license keys: its product (matched by Price, so a line item's
// quantity counts), its template, and serve's whole app on 127.0.0.1 for the license routes.

export const APP_PRODUCT = {
  key: "app",
  name: "Focus App",
  match: { price: "price_app" },
  subject: "Your {{product}} license",
  text: "templates/app.txt",
  license: { activations: 2, prefix: "FOCUS", offlineFor: "3d" },
};

/** A yearly edition: its key expires 30 days after Resend accepted its email. */
export const PRO_PRODUCT = {
  key: "pro",
  name: "Focus Pro",
  match: { price: "price_pro" },
  subject: "Your {{product}} license",
  text: "templates/app.txt",
  license: { expiresAfter: "30d", prefix: "PRO" },
};

export function writeAppFiles(dir: string): void {
  fs.writeFileSync(path.join(dir, "templates", "app.txt"), "Hi {{name}}\nKey: {{license.key}}\nActivations: {{license.activations}}\nExpires: {{license.expires}}\n");
}

export function appConfig(license: Record<string, unknown> = APP_PRODUCT.license, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { from: "Focus <shop@example.com>", replyTo: "help@example.com", resend: { maxPerSecond: 100 }, products: [...DEFAULT_PRODUCTS, { ...APP_PRODUCT, license }, PRO_PRODUCT], ...extra };
}

/** The key in an email's text body. */
export function keyIn(text: string | undefined): string {
  const m = /^Key: (\S+)$/m.exec(text ?? "");
  if (!m) throw new Error(`no key in ${text}`);
  return m[1] as string;
}

/** A charge for `quantity` copies of the app, bought through Checkout. */
export function buyApp(stripe: FakeStripe, nowMs: number, email: string, quantity = 1, extra: Record<string, unknown> = {}, price = "price_app") {
  const pi = `pi_${Math.random().toString(36).slice(2, 12)}`;
  const charge = stripe.addCharge({
    amount: 1500 * quantity, currency: "usd", payment_intent: pi, created: Math.floor(nowMs / 1000) - 5,
    billing_details: { email, name: "Ada Buyer" }, ...extra,
  });
  stripe.addCheckoutSession({ payment_intent: pi, line_items: [{ price: { id: price, product: price.replace("price_", "prod_") }, quantity }] });
  return charge;
}

/** serve's app (every route, the same limits) on 127.0.0.1. */
export async function serveApp(deps: PassDeps, stripeUrl: string): Promise<{ app: FastifyInstance; url: string; queue: WorkQueue }> {
  const queue = new WorkQueue(deps.log);
  const app = buildApp({ host: "127.0.0.1", port: 0, stripeSecret: "whsec_test", stripe: stripeClient(STRIPE_KEY, stripeUrl), deps }, queue);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, queue };
}

/** An answer's JSON as a test reads it (the shapes are asserted field by field). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Answer = Record<string, any>;

/**
 * POST to a license route as a form (Lemon Squeezy's way) or JSON, from `ip` (serve believes
 * X-Forwarded-For from loopback, as from a proxy on the host).
 */
export async function post(url: string, route: string, fields: Record<string, string>, opts: { json?: boolean; ip?: string } = {}): Promise<{ status: number; body: Answer; headers: Headers }> {
  const res = await fetch(`${url}/v1/licenses/${route}`, {
    method: "POST",
    headers: { "content-type": opts.json ? "application/json" : "application/x-www-form-urlencoded", ...(opts.ip ? { "x-forwarded-for": opts.ip } : {}) },
    body: opts.json ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Answer, headers: res.headers };
}
