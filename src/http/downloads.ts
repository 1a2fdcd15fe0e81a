import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { answerDownload } from "../downloads/answer";
import type { PassDeps } from "../pass/pass-deps";
import { redact } from "../redact";
import { otherMethodsNotAllowed } from "./methods";

// GET|HEAD /d/<token>: a download link. The decisions are in downloads/answer.ts; this file only
// turns them into a Fastify reply. Error answers are a short HTML page a buyer can read.

export interface DownloadRouteOptions {
  deps: PassDeps;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

function errorPage(status: number, message: string, publicUrl: string | undefined): string {
  const more = publicUrl ? `<p><a href="${(publicUrl + "/downloads").replace(/[&<>"]/g, (c) => ESCAPES[c] as string)}">Get fresh links by email</a></p>` : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${status}</title></head><body><main><h1>${message.replace(/[&<>"]/g, (c) => ESCAPES[c] as string)}</h1>${more}</main></body></html>\n`;
}


// A wildcard, not `:token`: Fastify answers 414 to a parameter over 100 characters, and a link
// for a long product key is longer than that.
type Req = FastifyRequest<{ Params: { "*": string } }>;

export const downloadRoutes: FastifyPluginAsync<DownloadRouteOptions> = async (app, { deps }) => {
  const handler = async (req: Req, reply: FastifyReply) => {
    const answer = await answerDownload(
      {
        ledger: deps.ledger,
        now: () => deps.clock.now(),
        onFileError: (err) => deps.log.error("download failed on the server's side", { error: redact(err.message) }),
      },
      {
        method: req.method === "HEAD" ? "HEAD" : "GET",
        token: req.params["*"],
        range: req.headers.range,
        ifRange: typeof req.headers["if-range"] === "string" ? req.headers["if-range"] : undefined,
        ip: req.ip,
        userAgent: req.headers["user-agent"],
      },
    );
    reply.code(answer.status).headers(answer.headers);
    if (answer.error !== undefined) {
      const page = errorPage(answer.status, answer.error, deps.config.publicUrl);
      reply.type("text/html; charset=utf-8");
      return req.method === "HEAD" ? reply.header("content-length", Buffer.byteLength(page)).send() : reply.send(page);
    }
    // No body (HEAD, 416, an empty file): the headers already carry the right Content-Length.
    return answer.body ? reply.send(answer.body) : reply.send();
  };
  // HEAD by hand: Fastify's automatic HEAD would set Content-Length to the empty body's 0.
  app.get("/d/*", { exposeHeadRoute: false }, handler);
  app.head("/d/*", handler);
  otherMethodsNotAllowed(app, "/d/*", ["GET", "HEAD"]);
};
