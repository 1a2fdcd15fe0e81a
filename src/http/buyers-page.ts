import type { FastifyPluginAsync } from "fastify";
import { buyersPage, shopNameFrom } from "../downloads/buyers-page";
import type { PassDeps } from "../pass/pass-deps";
import { handleBuyerRequest } from "./buyer-request";
import { otherMethodsNotAllowed } from "./methods";
import { redact } from "../redact";

// GET /downloads: the form. POST /downloads: the same page with a fixed notice, answered before
// any lookup, so neither the page nor the time it takes says whether the address bought
// anything; the lookup and the email happen after the answer is out.

export interface BuyersPageOptions {
  deps: PassDeps;
  /** Runs work after the answer (the server's work line, so a stop waits for it). */
  later: (what: string, job: () => Promise<void>) => void;
}

const FORM_BODY_LIMIT = 4096;

export const buyersPageRoutes: FastifyPluginAsync<BuyersPageOptions> = async (app, { deps, later }) => {
  const shop = shopNameFrom(deps.config.from);
  const blank = buyersPage(shop, { submitted: false });
  const submitted = buyersPage(shop, { submitted: true });
  const html = "text/html; charset=utf-8";

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.get("/downloads", async (_req, reply) => reply.type(html).header("cache-control", "no-store").send(blank));

  app.post("/downloads", { bodyLimit: FORM_BODY_LIMIT }, async (req, reply) => {
    const body = req.body as Record<string, unknown> | undefined;
    const email = typeof body?.email === "string" ? body.email : "";
    reply.type(html).header("cache-control", "no-store").send(submitted);
    if (email) {
      later("buyers' page request", async () => {
        await handleBuyerRequest(deps, email).catch((err: unknown) => deps.log.error("buyers' page request failed", { error: redact(String(err)) }));
      });
    }
    return reply;
  });
  otherMethodsNotAllowed(app, "/downloads", ["GET", "POST"]);
};
