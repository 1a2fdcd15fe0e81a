import type { FastifyPluginAsync } from "fastify";
import type { PassDeps } from "../pass/pass-deps";
import { passHealth } from "../pass/pass-record";
import { otherMethodsNotAllowed } from "./methods";

// GET /healthz: for an uptime checker outside the host. 503 when the last good pass is stale,
// so a checker that only reads status codes notices a daemon that stopped passing.

export interface HealthOptions {
  deps: PassDeps;
}

const healthBody = {
  type: "object",
  properties: {
    ok: { type: "boolean" },
    lastPass: {
      type: ["object", "null"],
      properties: { finishedAt: { type: "string" }, ok: { type: "boolean" }, stale: { type: "boolean" } },
    },
  },
} as const;

const schema = { response: { 200: healthBody, 503: healthBody } } as const;

export const health: FastifyPluginAsync<HealthOptions> = async (app, { deps }) => {
  app.get("/healthz", { schema }, async (_req, reply) => {
    const state = await passHealth(deps.ledger, deps.config.staleAfterMs, deps.clock.now());
    return reply.code(state.lastPass && !state.lastPass.stale ? 200 : 503).send(state);
  });
  otherMethodsNotAllowed(app, "/healthz", ["GET"]);
};
