import http from "node:http";
import type { AddressInfo } from "node:net";

// Incoming chat webhooks as their services take them (FACTS.md, wave 3): Slack (and Mattermost,
// Google Chat) show a JSON body's `text`; Discord shows `content`, at most 2,000 characters,
// and ignores fields it does not know. Both answer 2xx when they took it, and refuse a body
// without the field they show, as the real ones do. `shown` is what the channel's reader sees.

export type ChatService = "slack" | "discord";

export interface ChatPost {
  path: string;
  body: Record<string, unknown>;
}

export class FakeChat {
  /** Every POST that reached the fake, taken or refused. */
  readonly requests: ChatPost[] = [];
  /** What the chat shows its reader: one entry per message it took. */
  readonly shown: string[] = [];
  /** Messages it took, whole bodies. */
  readonly taken: Record<string, unknown>[] = [];
  /** Answer this status to the next `failing` requests (a chat having an outage). */
  failing = 0;
  failStatus = 500;
  url = "";
  private readonly server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => this.answer(req, raw, res));
  });

  /** `path` is the webhook's secret part, as Slack's /services/T…/B…/… or Discord's /api/webhooks/<id>/<token>. */
  constructor(readonly service: ChatService, private readonly path = service === "slack" ? "/services/T0FAKE/B0FAKE/slackSecretToken123" : "/api/webhooks/1234/discordSecretToken456") {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.path}`;
    return this;
  }

  /** The webhook URL's secret: the path after the host. */
  get secret(): string {
    return this.path.split("/").pop() as string;
  }

  private answer(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = {};
    }
    this.requests.push({ path: req.url ?? "", body });
    if (req.method !== "POST" || req.url !== this.path) return this.send(res, 404, this.service === "slack" ? "no_service" : { message: "Unknown Webhook", code: 10015 });
    if (this.failing > 0) {
      this.failing--;
      return this.send(res, this.failStatus, "outage");
    }
    if (this.service === "slack") {
      if (typeof body.text !== "string" || body.text === "") return this.send(res, 400, "no_text");
      this.shown.push(body.text);
      this.taken.push(body);
      return this.send(res, 200, "ok");
    }
    const content = body.content;
    if (typeof content !== "string" || content === "") return this.send(res, 400, { message: "Cannot send an empty message", code: 50006 });
    if ([...content].length > 2000) return this.send(res, 400, { content: ["Must be 2000 or fewer in length."] });
    this.shown.push(content);
    this.taken.push(body);
    res.writeHead(204);
    res.end();
  }

  private send(res: http.ServerResponse, status: number, body: string | object): void {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/json" });
    res.end(text);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
