// Fault injection shared by the fake Stripe and fake Resend servers.
//
// A test queues rules; each incoming request takes the first rule that matches
// it (method and path) and uses up one of its `times`. The fake then acts on it:
// answer with an error status, drop the connection, never answer, or answer late.
import type { Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

interface FaultMatch {
  /** HTTP method, case-insensitive. Any method when absent. */
  method?: string;
  /**
   * A string matches the pathname exactly (no query string). A RegExp matches if
   * it matches either the pathname or the full path with its query string, so
   * both /^\/v1\/charges$/ and /starting_after=/ work.
   */
  path?: RegExp | string;
  /** How many requests the rule applies to (default 1; Infinity allowed). */
  times?: number;
  /** Only requests carrying this Idempotency-Key (one product's sends among a charge's). */
  idempotencyKey?: string;
}

export type FaultRule = FaultMatch &
  (
    | { kind: "status"; status: number; body?: object; headers?: Record<string, string> }
    /** Destroy the socket without answering (the client sees a connection reset). */
    | { kind: "reset" }
    /** Never answer; the socket is destroyed when the server closes. */
    | { kind: "hang" }
    /** Answer normally, after a delay. */
    | { kind: "delay"; ms: number }
    /**
     * Answer normally once `open` settles: the test decides when this request is answered.
     * `processing` (Resend's POST /emails only): held after the idempotency key is taken, so a
     * request with the same key meanwhile finds it in progress (409 concurrent_idempotent_requests).
     */
    | { kind: "gate"; open: Promise<void>; processing?: boolean }
    /** Resend only: process the request (the email is sent), then drop the socket. */
    | { kind: "reset-after-processing" }
  );

export type Fault = FaultRule & { times: number };

export class FaultQueue {
  private rules: Fault[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, times: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** Takes the first rule matching this request, or undefined. */
  take(method: string, pathname: string, fullPath: string, idempotencyKey?: string): Fault | undefined {
    const index = this.rules.findIndex((r) => matches(r, method, pathname, fullPath) && (r.idempotencyKey === undefined || r.idempotencyKey === idempotencyKey));
    if (index < 0) return undefined;
    const rule = this.rules[index];
    if (!rule) return undefined;
    rule.times -= 1;
    if (rule.times <= 0) this.rules.splice(index, 1);
    return rule;
  }
}

function matches(rule: Fault, method: string, pathname: string, fullPath: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) return false;
  if (rule.path === undefined) return true;
  if (typeof rule.path === "string") return rule.path === pathname;
  return rule.path.test(pathname) || rule.path.test(fullPath);
}

/** Kills the connection without an HTTP answer; a TCP RST where the platform allows it. */
export function resetConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Listen/close plumbing shared by both fakes: 127.0.0.1 on a random port, and a
 * close() that destroys every open socket (keep-alive or hung) so tests never hang.
 */
export class ServerLifecycle {
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private portNumber = 0;

  constructor(private readonly server: Server) {
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  get port(): number {
    if (!this.portNumber) throw new Error("fake server not started: call start() first");
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => {
        this.server.off("error", reject);
        const address = this.server.address();
        if (address && typeof address === "object") this.portNumber = address.port;
        resolve();
      });
    });
  }

  /** A delay that close() cancels (the waiting handler is then simply dropped). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
    });
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}
