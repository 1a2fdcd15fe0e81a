import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { unsubscribePage } from "../announce/unsubscribe-page";
import { UNSUBSCRIBE_PATH, verifyUnsubscribe } from "../announce/unsubscribe-token";
import type { PassDeps } from "../pass/pass-deps";
import { otherMethodsNotAllowed } from "./methods";

// GET /unsubscribe/<token>: the page with its button. POST /unsubscribe/<token>: RFC 8058's
// one-click (the mail provider POSTs `List-Unsubscribe=One-Click`, form-encoded, without
// cookies), or the page's button; no body is needed either way → 200. An unknown or altered
// token is 404. Only the unsubscribes table is written: deliveries, `resend` and the buyers'
// page never read it.

export interface UnsubscribeRouteOptions {
  deps: PassDeps;
}

const BODY_LIMIT = 4096;
const HTML = "text/html; charset=utf-8";
type Req = FastifyRequest<{ Params: { "*": string } }>;

export const unsubscribeRoutes: FastifyPluginAsync<UnsubscribeRouteOptions> = async (app, { deps }) => {
  // Whatever a provider sends (form, multipart, nothing at all) is read and ignored: the token
  // alone says who leaves. Scoped to this plugin, so no other route takes such bodies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, String(body)));

  const addressOf = async (req: Req): Promise<string | null> => {
    const key = await deps.ledger.peekLinkKey();
    return key === undefined ? null : verifyUnsubscribe(key, req.params["*"]);
  };
  const notFound = (reply: FastifyReply) => reply.code(404).type(HTML).header("cache-control", "no-store").send(unsubscribePage(deps.config.from, "not-found"));

  app.get(`${UNSUBSCRIBE_PATH}*`, async (req: Req, reply) => {
    const email = await addressOf(req);
    if (email === null) return notFound(reply);
    const view = (await deps.ledger.isUnsubscribed(email)) ? "done" : "ask";
    return reply.type(HTML).header("cache-control", "no-store").send(unsubscribePage(deps.config.from, view, email, `${UNSUBSCRIBE_PATH}${req.params["*"]}`));
  });

  app.post(`${UNSUBSCRIBE_PATH}*`, { bodyLimit: BODY_LIMIT }, async (req: Req, reply) => {
    const email = await addressOf(req);
    if (email === null) return notFound(reply);
    const oneClick = typeof req.body === "string" && new URLSearchParams(req.body).get("List-Unsubscribe") === "One-Click";
    if (await deps.ledger.unsubscribe(email, oneClick ? "one-click" : "page", deps.clock.now())) {
      deps.log.info("unsubscribed from announcements", { via: oneClick ? "one-click" : "page" });
    }
    return reply.type(HTML).header("cache-control", "no-store").send(unsubscribePage(deps.config.from, "done", email));
  });
  otherMethodsNotAllowed(app, `${UNSUBSCRIBE_PATH}*`, ["GET", "POST"]);
};
