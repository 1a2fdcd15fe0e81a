import type { FastifyPluginAsync } from "fastify";
import { buyersPage, shopNameFrom } from "../downloads/buyers-page";
import type { PassDeps } from "../pass/pass-deps";
import { handleBuyerRequest } from "./buyer-request";
import { BUYERS_PAGE_POSTS } from "./limits";
import { otherMethodsNotAllowed } from "./methods";
import { PerIpLimit, perIpLimitHook } from "./per-ip-limit";
import { redact } from "../redact";

// GET /downloads: the form. POST /downloads: the same page with a fixed notice, answered before
// any lookup, so neither the page nor the time it takes says whether the address bought
// anything; the lookup and the email happen after the answer is out. A client past its POSTs
// per minute is refused before its body is read; a full work line is refused with 503.

export interface BuyersPageOptions {
  deps: PassDeps;
  /** Runs work after the answer (the server's work line, so a stop waits for it); false when the line is full. */
  later: (what: string, job: () => Promise<void>) => boolean;
}

const FORM_BODY_LIMIT = 4096;

export const buyersPageRoutes: FastifyPluginAsync<BuyersPageOptions> = async (app, { deps, later }) => {
  const shop = shopNameFrom(deps.config.from);
  const blank = buyersPage(shop, { submitted: false });
  const submitted = buyersPage(shop, { submitted: true });
  const html = "text/html; charset=utf-8";
  const notice = (title: string, text: string) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head><body><main><h1>${title}</h1><p>${text}</p></main></body></html>\n`;
  const tooMany = perIpLimitHook(new PerIpLimit({ ...BUYERS_PAGE_POSTS, now: () => deps.clock.now() }), (s) => ({
    type: html,
    payload: notice("Too many requests", `Please try again in ${s} second${s === 1 ? "" : "s"}.`),
  }));
  const busy = notice("Busy right now", "Please try again in a minute.");

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: FORM_BODY_LIMIT }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  app.get("/downloads", async (_req, reply) => reply.type(html).header("cache-control", "no-store").send(blank));

  app.post("/downloads", { bodyLimit: FORM_BODY_LIMIT, onRequest: tooMany }, async (req, reply) => {
    const body = req.body as Record<string, unknown> | undefined;
    const email = typeof body?.email === "string" ? body.email : "";
    if (email) {
      const queued = later("buyers' page request", async () => {
        await handleBuyerRequest(deps, email).catch((err: unknown) => deps.log.error("buyers' page request failed", { error: redact(String(err)) }));
      });
      // Whatever the address: a full line says nothing about who bought.
      if (!queued) return reply.code(503).type(html).header("cache-control", "no-store").header("retry-after", "60").send(busy);
    }
    return reply.type(html).header("cache-control", "no-store").send(submitted);
  });
  otherMethodsNotAllowed(app, "/downloads", ["GET", "POST"]);
};
