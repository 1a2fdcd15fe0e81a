// A local fake of Resend's sending API, for the real `resend` SDK (point it here with
// RESEND_BASE_URL or the client's `baseUrl` option). It models what paidup's promise
// rests on: idempotency keys, rate-limit headers, and sends whose outcome is unknown.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { FaultQueue, ServerLifecycle, resetConnection, sendJson, type FaultRule } from "./faults";
import { RateWindow, SLIDING_FRACTIONAL, type RateMode } from "./rate-window";

export interface FakeResendOptions {
  /** When set, only this key is accepted; otherwise any `Bearer …` key is. */
  apiKey?: string;
  /** Requests admitted per 1-second window (default Infinity). */
  ratePerSecond?: number;
  /**
   * How the window counts and how `ratelimit-reset` is written (test/fakes/rate-window.ts).
   * Default: a sliding window with reset to the millisecond (this fake before wave 3);
   * `RESEND_LIKE` is what Resend does: sliding, reset in whole seconds.
   */
  rateMode?: RateMode;
  /** Processing time of POST /emails; the idempotency key is "in progress" meanwhile. */
  latencyMs?: number;
  /** Clock (ms) for `at` and the 24 h idempotency window. */
  now?: () => number;
  /**
   * Clock (ms) of the rate window and its headers; default real time (performance.now). A test
   * that counts requests per second on an injected clock passes that clock here.
   */
  rateNow?: () => number;
  /** A "sending access" key may send but gets 401 restricted_api_key on GET /domains. */
  keyAccess?: "full" | "sending";
  /**
   * The team's sending domains (default: example.com, verified). A send whose `from` is not on a
   * verified one is refused with 403 validation_error, as Resend does.
   */
  domains?: FakeDomain[];
  /**
   * A testing account (no verified domain yet): it may send only to this address; anyone else
   * gets Resend's 403 validation_error about testing emails.
   */
  testingOwner?: string;
}

export interface FakeDomain {
  name: string;
  status: "verified" | "pending" | "not_started" | "failed" | "temporary_failure";
}

export interface SentEmail {
  id: string;
  to: string[];
  from: string;
  subject: string;
  text: string | undefined;
  html: string | undefined;
  attachments: { filename?: string; content?: string; path?: string }[];
  idempotencyKey: string | undefined;
  at: number;
  /** The request body as received, for any other field (cc, headers, tags…). */
  payload: Record<string, unknown>;
  /** Sent through POST /emails/batch: that request's Idempotency-Key (`idempotencyKey` is then unset). */
  batchKey?: string;
}

export interface ResendRequestRecord {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  /** Date.now() when the request arrived (real time, for pacing checks). */
  startedAt: number;
  /** The rate window's clock when the request arrived (see `rateNow`). */
  rateAt: number;
  /** The HTTP status it was answered with (undefined while in flight or when the socket was dropped). */
  status?: number;
}

type Answer = { status: number; body: object; headers?: Record<string, string> };
type KeyEntry = { body: string; at: number; answer?: Answer }; // no answer yet = in progress

const MAX_EMAIL_BYTES = 40 * 1024 * 1024;
/** Resend's batch endpoint takes 1–100 emails per request. */
const MAX_BATCH = 100;
const DAY_MS = 24 * 60 * 60 * 1000;
const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+\.[A-Za-z0-9-]{2,}$/;
const NAMED = /^[^<>]*<([^<>]+)>$/;
const FORMAT = "The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.";
const DEFAULT_NAMES: Record<number, string> = {
  400: "validation_error", 401: "missing_api_key", 403: "invalid_api_key", 404: "not_found",
  409: "invalid_idempotent_request", 422: "validation_error", 429: "rate_limit_exceeded",
  451: "security_error", 500: "internal_server_error",
};

const error = (statusCode: number, name: string, message: string): Answer =>
  ({ status: statusCode, body: { statusCode, name, message } });

/** A fault rule answering POST /emails with 429 daily_quota_exceeded. */
export function dailyQuotaFault(times = 1): FaultRule {
  return { method: "POST", path: "/emails", times, kind: "status", status: 429,
    body: { statusCode: 429, name: "daily_quota_exceeded", message: "You have reached your daily email sending quota." } };
}

/** The bare address of `a@b.c` or `Name <a@b.c>`, lower-cased. */
export function bareAddress(value: string): string {
  return (NAMED.exec(value.trim())?.[1] ?? value).trim().toLowerCase();
}

export class FakeResend {
  readonly sent: SentEmail[] = [];
  readonly requests: ResendRequestRecord[] = [];
  /** Peak number of POST /emails in flight at once (since the last resetCounters). */
  maxConcurrent = 0;
  /** Peak number of POST /emails in flight at once with one idempotency key (since the last resetCounters). */
  maxConcurrentPerKey = 0;
  private inFlight = 0;
  private readonly inFlightByKey = new Map<string, number>();
  private latencyMs: number;
  private readonly rateNow: () => number;
  private readonly window: RateWindow;
  private readonly keys = new Map<string, KeyEntry>();
  private readonly faults = new FaultQueue();
  private readonly life: ServerLifecycle;
  private readonly now: () => number;
  /** Editable by tests: verify a domain, or take its verification away. */
  readonly domains: FakeDomain[];

  constructor(private readonly options: FakeResendOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.domains = options.domains ?? [{ name: "example.com", status: "verified" }];
    this.now = options.now ?? Date.now;
    this.rateNow = options.rateNow ?? (() => performance.now());
    this.window = new RateWindow(options.ratePerSecond ?? Infinity, options.rateMode ?? SLIDING_FRACTIONAL, this.rateNow);
    this.life = new ServerLifecycle(createServer((req, res) => void this.handle(req, res)));
  }

  get url(): string { return this.life.url; }
  get port(): number { return this.life.port; }
  start(): Promise<void> { return this.life.start(); }
  close(): Promise<void> { return this.life.close(); }
  addFault(rule: FaultRule): void { this.faults.add(rule); }
  clearFaults(): void { this.faults.clear(); }
  setRate(perSecond: number): void { this.window.rate = perSecond; }
  setRateMode(mode: RateMode): void { this.window.mode = mode; }
  get rateMode(): RateMode { return this.window.mode; }
  setLatency(ms: number): void { this.latencyMs = ms; }
  /** Addresses Resend refuses with 422 validation_error (a single send, or the whole batch that holds one). */
  readonly refusedAddresses = new Set<string>();
  refuseAddress(address: string): void { this.refusedAddresses.add(bareAddress(address)); }

  /** Emails sent through POST /emails/batch, by that request's key: a replay adds none. */
  batchEmailsByKey(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const e of this.sent) if (e.batchKey !== undefined) counts.set(e.batchKey, (counts.get(e.batchKey) ?? 0) + 1);
    return counts;
  }
  /** POST /emails received and not yet answered. */
  get inFlightCount(): number { return this.inFlight; }
  /** Whether a request with this idempotency key is being processed (Resend answers a repeat 409 meanwhile). */
  keyInProgress(key: string): boolean { const e = this.keys.get(key); return e !== undefined && !e.answer; }

  sentTo(address: string): SentEmail[] {
    const wanted = bareAddress(address);
    return this.sent.filter((e) => e.to.some((t) => bareAddress(t) === wanted));
  }

  /** Idempotency key → number of real emails sent with it (replays are not emails). */
  sendsByKey(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const e of this.sent) {
      if (e.idempotencyKey !== undefined) counts.set(e.idempotencyKey, (counts.get(e.idempotencyKey) ?? 0) + 1);
    }
    return counts;
  }

  requestCount(filter: { method?: string; path?: RegExp | string } = {}): number {
    return this.requests.filter((r) =>
      (!filter.method || r.method === filter.method.toUpperCase()) &&
      (filter.path === undefined || (typeof filter.path === "string" ? r.path === filter.path : filter.path.test(r.path))),
    ).length;
  }

  /** Arrival times (Date.now()) of POST /emails requests, for pacing checks. */
  emailStartTimes(): number[] {
    return this.requests.filter((r) => r.method === "POST" && r.path === "/emails").map((r) => r.startedAt);
  }

  /** POST /emails answered 429 rate_limit_exceeded. */
  rateLimitedCount(): number {
    return this.requests.filter((r) => r.method === "POST" && r.path === "/emails" && r.status === 429).length;
  }

  /**
   * The most POST /emails that arrived within any `windowMs` span of the rate clock (only those
   * Resend admitted when `admittedOnly`): what a ceiling or an allowance is checked against.
   */
  peakPerWindow(windowMs = 1000, admittedOnly = false): number {
    const times = this.requests
      .filter((r) => r.method === "POST" && r.path === "/emails" && (!admittedOnly || r.status !== 429))
      .map((r) => r.rateAt)
      .sort((a, b) => a - b);
    let peak = 0;
    for (let lo = 0, hi = 0; hi < times.length; hi++) {
      while ((times[hi] as number) - (times[lo] as number) >= windowMs) lo++;
      peak = Math.max(peak, hi - lo + 1);
    }
    return peak;
  }

  resetCounters(): void {
    this.requests.length = 0;
    this.maxConcurrent = this.inFlight;
    this.maxConcurrentPerKey = 0;
  }

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const idempotencyKey = header(req, "idempotency-key");
    const record: ResendRequestRecord = { method, path, idempotencyKey, startedAt: Date.now(), rateAt: this.rateNow() };
    this.requests.push(record);
    const isSend = method === "POST" && path === "/emails";
    const isBatch = method === "POST" && path === "/emails/batch";
    if (isSend) this.enter(idempotencyKey);
    res.on("finish", () => (record.status = res.statusCode));
    try {
      const fault = this.faults.take(method, path, req.url ?? "/", idempotencyKey);
      if (fault?.kind === "reset") return resetConnection(res);
      if (fault?.kind === "hang") return;
      if (fault?.kind === "status") {
        const name = DEFAULT_NAMES[fault.status] ?? (fault.status >= 500 ? "application_error" : "validation_error");
        const extra: Record<string, string> = fault.status === 429 && !fault.body ? { "retry-after": "1" } : {};
        const body = fault.body ?? error(fault.status, name, `Fake fault: HTTP ${fault.status}`).body;
        return sendJson(res, fault.status, body, { ...this.rateHeaders(), ...extra, ...fault.headers });
      }
      const delayMs = fault?.kind === "delay" ? fault.ms : 0;
      const processingGate = fault?.kind === "gate" && fault.processing && isSend ? fault.open : undefined;
      if (fault?.kind === "gate" && !processingGate) await fault.open;
      const answer = isSend
        ? await this.send(req, idempotencyKey, delayMs, fault?.kind === "reset-after-processing", processingGate)
        : isBatch
          ? await this.sendBatch(req, idempotencyKey, delayMs, fault?.kind === "reset-after-processing")
          : await this.other(req, method, path, delayMs);
      if (answer === "reset") return resetConnection(res);
      const { headers = {}, ...rest } = answer as Answer & { headers?: Record<string, string> };
      sendJson(res, rest.status, rest.body, { ...this.rateHeaders(), ...headers });
    } catch {
      // The client went away mid-request (or close() ran): nothing left to answer.
      if (!res.headersSent) resetConnection(res);
    } finally {
      if (isSend) this.leave(idempotencyKey);
    }
  }

  private enter(key: string | undefined): void {
    this.maxConcurrent = Math.max(this.maxConcurrent, ++this.inFlight);
    if (key === undefined) return;
    const n = (this.inFlightByKey.get(key) ?? 0) + 1;
    this.inFlightByKey.set(key, n);
    this.maxConcurrentPerKey = Math.max(this.maxConcurrentPerKey, n);
  }

  private leave(key: string | undefined): void {
    this.inFlight--;
    if (key === undefined) return;
    const n = (this.inFlightByKey.get(key) ?? 1) - 1;
    if (n > 0) this.inFlightByKey.set(key, n);
    else this.inFlightByKey.delete(key);
  }

  private async other(req: IncomingMessage, method: string, path: string, delayMs: number): Promise<Answer> {
    await readBody(req);
    if (delayMs) await this.life.sleep(delayMs);
    const one = /^\/emails\/([^/]+)$/.exec(path);
    if (one && method === "GET") return this.getEmail(req, one[1] as string);
    if (path !== "/domains" && path !== "/emails") return error(404, "not_found", "The requested endpoint does not exist.");
    if (method !== "GET" || path !== "/domains") return error(405, "method_not_allowed", "Method is not allowed for the requested path.");
    const denied = this.auth(req) ?? this.admit();
    if (denied) return denied;
    if (this.options.keyAccess === "sending") {
      return error(401, "restricted_api_key", "This API key is restricted to only send emails");
    }
    const data = this.domains.map((d, i) => ({
      id: `d91cd9bd-1176-453e-8fc1-35364d38000${i}`, name: d.name, status: d.status,
      created_at: "2026-01-01 00:00:00.000000+00", region: "us-east-1", capabilities: { sending: "enabled", receiving: "disabled" },
    }));
    return { status: 200, body: { object: "list", has_more: false, data } };
  }

  private async send(req: IncomingMessage, key: string | undefined, delayMs: number,
    resetAfter: boolean, hold?: Promise<void>): Promise<Answer | "reset"> {
    const raw = await readBody(req);
    const denied = this.auth(req) ?? this.admit();
    if (denied) return denied;
    // The rate headers say how the window stood when the request was admitted, as a rate
    // limiter in front of the API writes them, not how it stands once the email is processed.
    const limits = this.rateHeaders();
    const answered = await this.process(raw, key, delayMs, resetAfter, hold);
    return answered === "reset" ? answered : { ...answered, headers: limits };
  }

  private async process(raw: string | null, key: string | undefined, delayMs: number, resetAfter: boolean, hold?: Promise<void>): Promise<Answer | "reset"> {
    if (raw === null) {
      return error(422, "validation_error", "The email is too large: at most 40MB, attachments included.");
    }
    if (key !== undefined && (key.length < 1 || key.length > 256)) {
      return error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.");
    }
    const previous = key === undefined ? undefined : this.keys.get(key);
    if (previous && this.now() - previous.at >= DAY_MS) this.keys.delete(key as string);
    else if (previous && !previous.answer) {
      return error(409, "concurrent_idempotent_requests",
        "Same idempotency key used while original request is still in progress.");
    } else if (previous?.answer) {
      if (previous.body !== raw) {
        return error(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.");
      }
      return previous.answer; // the original answer, and no new email
    }

    const entry: KeyEntry = { body: raw, at: this.now() };
    if (key !== undefined) this.keys.set(key, entry);
    const wait = this.latencyMs + delayMs;
    if (wait) await this.life.sleep(wait);
    if (hold) await hold;
    const answer = this.accept(raw, key);
    // Assumption: only 2xx answers are remembered for replay; after an error answer the
    // key is free again, so a corrected retry with the same key can go through.
    if (key !== undefined) {
      if (answer.status < 300) Object.assign(entry, { answer, at: this.now() });
      else this.keys.delete(key);
    }
    return resetAfter && answer.status < 300 ? "reset" : answer;
  }

  /**
   * POST /emails/batch as FACTS.md describes it: 1–100 emails, each with a single send's fields
   * but no `attachments` or `scheduled_at`; one Idempotency-Key for the whole request (same key
   * + same body → the original ids, no new email; same key + other body → 409); the answer is
   * `{ data: [{ id }, …] }` in the order sent. Validation is strict by default: one email that
   * fails (a refused address) fails the whole batch with 422 and nothing is sent. With
   * `x-batch-validation: permissive` the valid ones go and `errors` lists the others by index.
   * One request takes one slot of the rate limit, whatever its size.
   */
  private async sendBatch(req: IncomingMessage, key: string | undefined, delayMs: number, resetAfter: boolean): Promise<Answer | "reset"> {
    const raw = await readBody(req);
    const denied = this.auth(req) ?? this.admit();
    if (denied) return denied;
    if (raw === null) return error(422, "validation_error", "The request is too large.");
    if (key !== undefined && (key.length < 1 || key.length > 256)) {
      return error(400, "invalid_idempotency_key", "The key must be between 1-256 chars.");
    }
    const previous = key === undefined ? undefined : this.keys.get(key);
    if (previous && this.now() - previous.at >= DAY_MS) this.keys.delete(key as string);
    else if (previous && !previous.answer) {
      return error(409, "concurrent_idempotent_requests", "Same idempotency key used while original request is still in progress.");
    } else if (previous?.answer) {
      if (previous.body !== raw) return error(409, "invalid_idempotent_request", "Same idempotency key used with a different request payload.");
      return previous.answer;
    }
    const entry: KeyEntry = { body: raw, at: this.now() };
    if (key !== undefined) this.keys.set(key, entry);
    const wait = this.latencyMs + delayMs;
    if (wait) await this.life.sleep(wait);
    const answer = this.acceptBatch(raw, key, header(req, "x-batch-validation") === "permissive");
    if (key !== undefined) {
      if (answer.status < 300) Object.assign(entry, { answer, at: this.now() });
      else this.keys.delete(key);
    }
    return resetAfter && answer.status < 300 ? "reset" : answer;
  }

  private acceptBatch(raw: string, key: string | undefined, permissive: boolean): Answer {
    let list: unknown;
    try {
      list = JSON.parse(raw);
    } catch {
      return error(422, "validation_error", "Invalid JSON body.");
    }
    if (!Array.isArray(list) || list.length < 1 || list.length > MAX_BATCH) {
      return error(422, "validation_error", `A batch holds between 1 and ${MAX_BATCH} emails.`);
    }
    const emails = list as unknown[];
    const problems: { index: number; answer: Answer }[] = [];
    emails.forEach((e, index) => {
      if (typeof e !== "object" || e === null || Array.isArray(e)) return problems.push({ index, answer: error(422, "validation_error", "Each email must be an object.") });
      const p = e as Record<string, unknown>;
      if (p.attachments !== undefined) return problems.push({ index, answer: error(422, "validation_error", "Attachments are not supported in batch emails.") });
      if (p.scheduled_at !== undefined) return problems.push({ index, answer: error(422, "validation_error", "`scheduled_at` is not supported in batch emails.") });
      const refused = this.validate(p);
      if (refused) problems.push({ index, answer: refused });
      return undefined;
    });
    if (problems.length > 0 && !permissive) {
      const first = problems[0] as { index: number; answer: Answer };
      const body = first.answer.body as { name: string; message: string };
      // Strict: Resend names the first email at fault and sends none of them.
      return { status: first.answer.status, body: { statusCode: first.answer.status, name: body.name, message: `emails[${first.index}]: ${body.message}` } };
    }
    const bad = new Set(problems.map((p) => p.index));
    const data = emails.flatMap((e, i) => (bad.has(i) ? [] : [{ id: this.record(e as Record<string, unknown>, undefined, key) }]));
    const errors = problems.map((p) => ({ index: p.index, message: (p.answer.body as { message: string }).message }));
    return { status: 200, body: permissive ? { data, errors } : { data } };
  }

  /** What `emails.get` reports as an email's `last_event` (default "delivered"), settable by tests. */
  readonly lastEvents = new Map<string, string>();

  /** GET /emails/:id, as Resend answers it; a sending-only key may not read emails. */
  private getEmail(req: IncomingMessage, id: string): Answer {
    const denied = this.auth(req) ?? this.admit();
    if (denied) return denied;
    if (this.options.keyAccess === "sending") return error(401, "restricted_api_key", "This API key is restricted to only send emails");
    const e = this.sent.find((s) => s.id === id);
    if (!e) return error(404, "not_found", "Email not found");
    return { status: 200, body: { object: "email", id, to: e.to, from: e.from, subject: e.subject, created_at: new Date(e.at).toISOString(), last_event: this.lastEvents.get(id) ?? "delivered" } };
  }

  /** Validates the payload and, if it is fine, records the email as sent. */
  private accept(raw: string, key: string | undefined): Answer {
    let p: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      p = parsed as Record<string, unknown>;
    } catch {
      return error(422, "validation_error", "Invalid JSON body.");
    }
    const refused = this.validate(p);
    if (refused) return refused;
    return { status: 200, body: { id: this.record(p, key) } };
  }

  /** Resend's checks of one email, in its order; undefined when Resend would take it. */
  private validate(p: Record<string, unknown>): Answer | undefined {
    for (const field of ["from", "to", "subject"]) {
      if (p[field] === undefined || p[field] === null) return error(422, "missing_required_field", `Missing \`${field}\` field.`);
    }
    if (typeof p.from !== "string" || !ADDRESS.test(bareAddress(p.from))) {
      return error(422, "invalid_from_address", `Invalid \`from\` field. ${FORMAT}`);
    }
    for (const field of ["to", "cc", "bcc", "reply_to"]) {
      const v = p[field];
      if (v === undefined) continue;
      const list = Array.isArray(v) ? v : [v];
      if (list.length === 0 || list.length > 50 ||
        !list.every((a) => typeof a === "string" && ADDRESS.test(bareAddress(a)))) {
        return error(422, "validation_error", `Invalid \`${field}\` field. ${FORMAT}`);
      }
    }
    const refused = this.sendingRefusal(p.from, p.to);
    if (refused) return refused;
    const list = (Array.isArray(p.to) ? p.to : [p.to]) as string[];
    const bad = list.find((a) => this.refusedAddresses.has(bareAddress(a)));
    if (bad !== undefined) return error(422, "validation_error", `Invalid \`to\` field. The address ${bareAddress(bad)} is not accepted.`);
    if (typeof p.subject !== "string") return error(422, "validation_error", "Invalid `subject` field.");
    if (typeof p.text !== "string" && typeof p.html !== "string") {
      return error(422, "missing_required_field", "Missing `html` or `text` field.");
    }
    const attachments = p.attachments ?? [];
    if (!Array.isArray(attachments)) return error(422, "invalid_attachment", "`attachments` must be an array.");
    for (const a of attachments as Record<string, unknown>[]) {
      const okContent = typeof a?.content === "string" && /^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(a.content);
      if (!okContent && typeof a?.path !== "string") {
        return error(422, "invalid_attachment", "Attachment must have either a base64 `content` or a `path`.");
      }
    }
    return undefined;
  }

  /** Records a validated email as sent; its id. */
  private record(p: Record<string, unknown>, key: string | undefined, batchKey?: string): string {
    const id = randomUUID();
    this.sent.push({
      id, to: Array.isArray(p.to) ? (p.to as string[]) : [p.to as string], from: p.from as string,
      subject: p.subject as string, text: p.text as string | undefined, html: p.html as string | undefined,
      attachments: (p.attachments ?? []) as SentEmail["attachments"], idempotencyKey: key, at: this.now(), payload: p,
      ...(batchKey !== undefined ? { batchKey } : {}),
    });
    return id;
  }

  /** Resend's 403s for a sender it will not send as: unverified domain, testing account. */
  private sendingRefusal(from: string, to: unknown): Answer | undefined {
    const owner = this.options.testingOwner;
    if (owner !== undefined) {
      const list = (Array.isArray(to) ? to : [to]) as string[];
      if (list.some((a) => bareAddress(a) !== bareAddress(owner))) {
        return error(403, "validation_error", `You can only send testing emails to your own email address (${owner}). ` +
          "To send emails to other recipients, please verify a domain at resend.com/domains, and change the `from` address to an email using this domain.");
      }
      return undefined;
    }
    const domain = bareAddress(from).split("@")[1] ?? "";
    const known = this.domains.find((d) => d.name.toLowerCase() === domain);
    if (known?.status !== "verified") {
      return error(403, "validation_error", `The ${domain} domain is not verified. Please, add and verify your domain on https://resend.com/domains`);
    }
    return undefined;
  }

  private auth(req: IncomingMessage): Answer | undefined {
    const key = /^Bearer\s+(\S+)$/.exec(header(req, "authorization") ?? "")?.[1];
    if (!key) {
      return error(401, "missing_api_key",
        "Missing API key in the authorization header. Include the following header in the request: Authorization: Bearer YOUR_API_KEY");
    }
    // Resend answers a wrong key with 403 (not 401), per its error reference.
    if (this.options.apiKey !== undefined && key !== this.options.apiKey) return error(403, "invalid_api_key", "API key is invalid");
    return undefined;
  }

  /** Takes a slot in the rate window, or answers 429. */
  private admit(): (Answer & { headers: Record<string, string> }) | undefined {
    if (this.window.admit()) return undefined;
    const answer = error(429, "rate_limit_exceeded", "Too many requests. You can only make " +
      `${this.window.rate} requests per second. See rate limit response headers for more information.`);
    return { ...answer, headers: { ...this.rateHeaders(), "retry-after": String(this.window.retryAfterSeconds()) } };
  }

  private rateHeaders(): Record<string, string> {
    return this.window.headers();
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The body as text, or null when it exceeds the 40 MB limit (the rest is drained, not kept). */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_EMAIL_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on("end", () => resolve(size > MAX_EMAIL_BYTES ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
    req.on("close", () => { if (!req.complete) reject(new Error("request aborted")); });
  });
}
