import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { answerLicense, badRequest, Fields, Route } from "../licenses/answers";
import { jwks } from "../licenses/certificates";
import type { PassDeps } from "../pass/pass-deps";
import { redact } from "../redact";
import { PerIpLimit, perIpLimitHook } from "./per-ip-limit";
import { otherMethodsNotAllowed } from "./methods";

// POST /v1/licenses/activate|validate|deactivate and GET /v1/licenses/jwks.json. The decisions
// are in licenses/answers.ts; this file parses form or JSON bodies (any other body is a 400, not
// a framework error), counts each client's requests (per-ip-limit.ts), and turns answers into replies.

export const LICENSE_PREFIX = "/v1/licenses";
/** Per client address, per process: what the contract allows (Lemon Squeezy's own limit). */
export const LICENSE_RATE = { limit: 60, windowMs: 60_000 };
const BODY_LIMIT = 16 * 1024;
const ROUTES: Route[] = ["activate", "validate", "deactivate"];
const FIELDS = ["license_key", "instance_name", "instance_id"];

export interface LicenseRouteOptions {
  deps: PassDeps;
}

/** The body as fields; null when it is not an object (a JSON array, broken JSON, a repeated field). */
function fieldsOf(req: FastifyRequest): Fields {
  const body = req.body;
  if (body === undefined || body === null || body === "") return {};
  if (typeof body !== "string") return null;
  const type = String(req.headers["content-type"] ?? "").toLowerCase();
  if (type.includes("json") || (!type.includes("x-www-form-urlencoded") && /^\s*[[{]/.test(body))) {
    try {
      const parsed: unknown = JSON.parse(body);
      return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
  const form = new URLSearchParams(body);
  if (FIELDS.some((f) => form.getAll(f).length > 1)) return null;
  return Object.fromEntries(FIELDS.filter((f) => form.has(f)).map((f) => [f, form.get(f)]));
}

export const licenseRoutes: FastifyPluginAsync<LicenseRouteOptions> = async (app, { deps }) => {
  const limiter = new PerIpLimit({ ...LICENSE_RATE, now: () => deps.clock.now() });
  const answerDeps = { ledger: deps.ledger, config: deps.config, now: () => deps.clock.now() };

  // Every body is read as text here and judged by fieldsOf: a body Fastify cannot parse would
  // otherwise be its 415 or 400 in another shape than the route's.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

  // Counted before the body is read, for every route and method under /v1/licenses.
  app.addHook("onRequest", perIpLimitHook(limiter, (s) => ({ type: "application/json; charset=utf-8", payload: JSON.stringify({ error: `too many requests; try again in ${s} s` }) })));

  // The ledger unreachable is the server's trouble, not the client's: 503, never a 500.
  app.setErrorHandler(async (err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 503;
    if (status === 503) deps.log.error("license request failed", { path: req.url.slice(0, 100), error: redact(err.message) });
    const route = ROUTES.find((r) => req.url.startsWith(`${LICENSE_PREFIX}/${r}`));
    if (route && status < 500) return reply.code(status).send(badRequest(route, err.message).body);
    return reply.code(status).send({ error: status === 503 ? "license service unavailable; try again" : err.message });
  });

  for (const route of ROUTES) {
    const url = `${LICENSE_PREFIX}/${route}`;
    app.post(url, async (req: FastifyRequest, reply: FastifyReply) => {
      const answer = await answerLicense(answerDeps, route, fieldsOf(req), req.ip);
      return reply.code(answer.status).send(answer.body);
    });
    otherMethodsNotAllowed(app, url, ["POST"]);
  }
  app.get(`${LICENSE_PREFIX}/jwks.json`, async (_req, reply) => reply.header("cache-control", "public, max-age=300").send(await jwks(deps.ledger)));
  otherMethodsNotAllowed(app, `${LICENSE_PREFIX}/jwks.json`, ["GET"]);
};
