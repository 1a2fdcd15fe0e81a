import http from "node:http";
import type { AddressInfo } from "node:net";

/** A local HTTP server that records every request it gets: a stand-in for a push monitor. */
export class Receiver {
  readonly requests: { method: string; path: string }[] = [];
  /** "ok": 200; "error": 500; "hang": never answers (the socket is dropped on close). */
  mode: "ok" | "error" | "hang" = "ok";
  private readonly server = http.createServer((req, res) => {
    this.requests.push({ method: req.method ?? "", path: req.url ?? "" });
    if (this.mode === "hang") return;
    res.writeHead(this.mode === "ok" ? 200 : 500, { "content-type": "text/plain" });
    res.end(this.mode === "ok" ? "OK" : "no");
  });
  url = "";

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  paths(): string[] {
    return this.requests.map((r) => r.path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
