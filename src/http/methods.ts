import type { FastifyInstance, HTTPMethods } from "fastify";

/**
 * Answers 405 (with `Allow`) to every method a known path does not take. Fastify would say
 * 404; the contract says 405. The answer is given before any body is read.
 */
export function otherMethodsNotAllowed(app: FastifyInstance, url: string, allowed: HTTPMethods[]): void {
  const taken = new Set<string>(allowed);
  // Fastify answers HEAD itself for every GET route.
  if (taken.has("GET")) taken.add("HEAD");
  const others = app.supportedMethods.filter((m) => !taken.has(m)) as HTTPMethods[];
  const allow = [...taken].join(", ");
  app.route({
    method: others,
    url,
    onRequest: async (_req, reply) => reply.code(405).header("allow", allow).send({ error: "method not allowed" }),
    handler: async () => undefined,
  });
}
