import type { FastifyPluginAsync } from "fastify";
import { Metrics } from "../metrics";
import type { PassDeps } from "../pass/pass-deps";
import { lastSuccessAt, passHealth } from "../pass/pass-record";
import { otherMethodsNotAllowed } from "./methods";

// What watches paidup from outside. GET /healthz for an uptime checker: 503 when the last good
// pass is stale, so a checker that only reads status codes notices a daemon that stopped
// passing. GET /metrics for Prometheus: this process's counters plus the ledger's gauges,
// read at scrape time.

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

const healthSchema = { response: { 200: healthBody, 503: healthBody } } as const;

export const health: FastifyPluginAsync<HealthOptions> = async (app, { deps }) => {
  app.get("/healthz", { schema: healthSchema }, async (_req, reply) => {
    let state: Awaited<ReturnType<typeof passHealth>>;
    try {
      state = await passHealth(deps.ledger, deps.config.staleAfterMs, deps.clock.now());
    } catch (err) {
      // The ledger's database restarting or failing over: not healthy, and an answer all the same.
      if (!deps.ledger.unavailable(err)) throw err;
      return reply.code(503).send({ ok: false, lastPass: null });
    }
    return reply.code(state.lastPass && !state.lastPass.stale ? 200 : 503).send(state);
  });
  otherMethodsNotAllowed(app, "/healthz", ["GET"]);

  const metrics = deps.metrics ?? new Metrics();
  metrics.watch({
    stuckByState: async () => {
      const counts: Record<string, number> = {};
      for (const row of await deps.ledger.stuck(deps.clock.now() - deps.config.stuckAfterMs)) counts[row.state] = (counts[row.state] ?? 0) + 1;
      return counts;
    },
    lastSuccessAt: () => lastSuccessAt(deps.ledger),
    rateLimit: () => {
      const pacer = deps.mailer?.pacer;
      if (!pacer) return null;
      return { ...(pacer.lastSeen ?? { limit: null, remaining: null }), allowedPerSecond: pacer.ratePerSecond };
    },
  });
  app.get("/metrics", async (_req, reply) => {
    const { contentType, body } = await metrics.scrape();
    return reply.header("content-type", contentType).send(body);
  });
  otherMethodsNotAllowed(app, "/metrics", ["GET"]);
};
