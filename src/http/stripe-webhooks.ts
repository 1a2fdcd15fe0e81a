import type { FastifyPluginAsync } from "fastify";
import type Stripe from "stripe";
import { z } from "zod";
import type { EventRow } from "../ledger";
import type { PassDeps } from "../pass/pass-deps";
import { redact } from "../redact";
import { eventObjectId, handleEvent } from "./webhook-events";
import type { WorkQueue } from "./event-queue";
import { otherMethodsNotAllowed } from "./methods";

// POST /webhooks/stripe: verify on the raw bytes, record the event (its id is unique), answer
// 200, then deliver through the same path as a pass. The poller stays the source of truth.

export const STRIPE_WEBHOOK_PATH = "/webhooks/stripe";

export interface StripeWebhookOptions {
  secret: string;
  /** Only its `webhooks.constructEvent` is used: signatures are checked by the SDK. */
  stripe: Stripe;
  deps: PassDeps;
  queue: WorkQueue;
}

/**
 * What paidup needs of a verified event. A signature proves Stripe sent it, not that it has the
 * shape we expect: a signed array or an event without `data` must not become a TypeError.
 */
const UsableEvent = z.object({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

const schema = {
  headers: {
    type: "object",
    properties: { "stripe-signature": { type: "string", minLength: 1 } },
    required: ["stripe-signature"],
  },
  response: {
    200: {
      type: "object",
      properties: { received: { type: "boolean" }, duplicate: { type: "boolean" }, ignored: { type: "string" } },
    },
    "4xx": { type: "object", properties: { error: { type: "string" } } },
    "5xx": { type: "object", properties: { error: { type: "string" } } },
  },
} as const;

export const stripeWebhooks: FastifyPluginAsync<StripeWebhookOptions> = async (app, opts) => {
  const { deps, queue, secret, stripe } = opts;
  const handleLater = (event: EventRow) =>
    queue.push(`webhook event ${event.id}`, async () => {
      // A stop request leaves the event unhandled in the ledger for the next start.
      if (deps.signal?.aborted) return;
      const outcome = await handleEvent(deps, event);
      deps.log.info("webhook event handled", { event: event.id, type: event.type, outcome: outcome?.kind ?? "ignored" });
    });

  // Finish what a previous process recorded but did not handle (it stopped after the 200).
  app.addHook("onReady", async () => {
    for (const event of await deps.ledger.unhandledEvents()) handleLater(event);
  });

  // The signature is over the exact bytes Stripe sent: this route, and only this one, keeps
  // the body as a Buffer instead of parsed JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.post(STRIPE_WEBHOOK_PATH, { schema }, async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let verified: unknown;
    try {
      // receivedAt is in milliseconds: the injected clock decides what "too old" means.
      verified = stripe.webhooks.constructEvent(raw, req.headers["stripe-signature"] as string, secret, undefined, undefined, deps.clock.now());
    } catch (err) {
      deps.log.warn("webhook refused: signature verification failed", { error: redact((err as Error).message).slice(0, 200) });
      return reply.code(400).send({ error: "signature verification failed" });
    }
    const event = UsableEvent.safeParse(verified);
    if (!event.success) {
      // Answered 200: Stripe signed it, so retrying it for days would not make it usable.
      deps.log.warn("webhook event ignored: not an event paidup can use", { issue: event.error.issues[0]?.message ?? "shape" });
      return { received: true, duplicate: false, ignored: "not an event paidup can use" };
    }
    const { id, type, data } = event.data;
    const row: EventRow = { id, type, object_id: eventObjectId(type, data.object), received_at: deps.clock.now(), handled_at: null };
    let fresh: boolean;
    try {
      fresh = await deps.ledger.recordEvent({ id: row.id, type: row.type, objectId: row.object_id }, row.received_at);
    } catch (err) {
      // Not recorded, so not acknowledged: Stripe retries, and the poller covers it anyway.
      deps.log.error("webhook event could not be recorded", { event: id, error: redact(String(err)) });
      return reply.code(500).send({ error: "could not record the event" });
    }
    if (fresh) handleLater(row);
    return { received: true, duplicate: !fresh };
  });
  otherMethodsNotAllowed(app, STRIPE_WEBHOOK_PATH, ["POST"]);
};
