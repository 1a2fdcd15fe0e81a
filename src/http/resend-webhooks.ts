import type { FastifyPluginAsync } from "fastify";
import { Resend } from "resend";
import { z } from "zod";
import type { EmailEvent } from "../ledger";
import type { PassDeps } from "../pass/pass-deps";
import { alertBounces, recordEmailEvent } from "../pass/email-status";
import { redact } from "../redact";
import type { WorkQueue } from "./event-queue";
import { otherMethodsNotAllowed } from "./methods";

// POST /webhooks/resend (only with RESEND_WEBHOOK_SECRET): Resend's email events, verified the
// Svix way on the raw body, recorded once by svix-id, answered 200; a bounce makes its charge
// `bounced` before the answer, and the alert email goes out after it.

export const RESEND_WEBHOOK_PATH = "/webhooks/resend";

export interface ResendWebhookOptions {
  /** RESEND_WEBHOOK_SECRET, `whsec_…` from Resend's webhook settings. */
  secret: string;
  deps: PassDeps;
  queue: WorkQueue;
}

/** What paidup reads of a verified event; every field is untrusted. */
const UsableEvent = z.object({
  type: z.string().min(1).max(100),
  created_at: z.string().max(100).optional(),
  data: z.looseObject({
    email_id: z.string().min(1).max(255),
    bounce: z.looseObject({ message: z.string().max(1000).optional(), type: z.string().max(100).optional(), subType: z.string().max(100).optional() }).optional(),
    failed: z.looseObject({ reason: z.string().max(1000).optional() }).optional(),
  }),
});

const schema = {
  headers: {
    type: "object",
    properties: {
      "svix-id": { type: "string", minLength: 1, maxLength: 255 },
      "svix-timestamp": { type: "string", minLength: 1, maxLength: 20 },
      "svix-signature": { type: "string", minLength: 1, maxLength: 4096 },
    },
    required: ["svix-id", "svix-timestamp", "svix-signature"],
  },
  response: {
    200: { type: "object", properties: { received: { type: "boolean" }, duplicate: { type: "boolean" }, ignored: { type: "string" } } },
    "4xx": { type: "object", properties: { error: { type: "string" } } },
    "5xx": { type: "object", properties: { error: { type: "string" } } },
  },
} as const;

function detailOf(data: z.infer<typeof UsableEvent>["data"]): string | null {
  if (data.bounce) return [data.bounce.type, data.bounce.subType, data.bounce.message].filter(Boolean).join(", ") || null;
  return data.failed?.reason ?? null;
}

export const resendWebhooks: FastifyPluginAsync<ResendWebhookOptions> = async (app, { secret, deps, queue }) => {
  // The SDK's verifier (standardwebhooks inside); it never calls the API, so no real key is needed.
  const verifier = new Resend("re_verify_only").webhooks;

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  app.post(RESEND_WEBHOOK_PATH, { schema }, async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
    const h = req.headers as Record<string, string>;
    let verified: unknown;
    try {
      // Checks the signature over "<svix-id>.<svix-timestamp>.<raw body>" and a timestamp within 5 minutes.
      verified = verifier.verify({ payload: raw, headers: { id: h["svix-id"] as string, timestamp: h["svix-timestamp"] as string, signature: h["svix-signature"] as string }, webhookSecret: secret });
    } catch (err) {
      deps.log.warn("Resend webhook refused: signature verification failed", { error: redact((err as Error).message).slice(0, 200) });
      return reply.code(400).send({ error: "signature verification failed" });
    }
    const event = UsableEvent.safeParse(verified);
    if (!event.success) {
      deps.log.warn("Resend webhook ignored: not an email event paidup can use", { issue: event.error.issues[0]?.message ?? "shape" });
      return { received: true, duplicate: false, ignored: "not an email event paidup can use" };
    }
    const { type, created_at, data } = event.data;
    const at = created_at && Number.isFinite(Date.parse(created_at)) ? Date.parse(created_at) : deps.clock.now();
    const e: EmailEvent = { id: h["svix-id"] as string, emailId: data.email_id, type, at, detail: detailOf(data), source: "webhook" };
    let outcome;
    try {
      outcome = await recordEmailEvent(deps, e);
    } catch (err) {
      // Not recorded, so not acknowledged: Resend retries for about a day, and the passes poll.
      deps.log.error("Resend webhook event could not be recorded", { error: redact(String(err)) });
      return reply.code(500).send({ error: "could not record the event" });
    }
    if (outcome === "bounced") queue.push("bounce alert", () => alertBounces(deps));
    if (outcome === "not_ours") return { received: true, duplicate: false, ignored: "not an email paidup sent" };
    return { received: true, duplicate: outcome === "duplicate" };
  });
  otherMethodsNotAllowed(app, RESEND_WEBHOOK_PATH, ["POST"]);
};
