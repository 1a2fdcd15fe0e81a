/**
 * What one client may take from the process. Every number bounds a way a slow or hostile
 * client could hold sockets or memory: the server answers or hangs up, and the passes beside
 * it go on.
 */
export interface HttpLimits {
  /** Largest request body; Fastify answers 413 beyond it (Stripe's events are a few KiB). */
  bodyLimit: number;
  /** Whole headers must arrive within this, even trickled a byte at a time (slowloris). */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  requestTimeoutMs: number;
  /** A socket with no traffic for this long is closed (idle connections, stalled bodies). */
  idleTimeoutMs: number;
  /** Keep-alive sockets between requests close after this. */
  keepAliveTimeoutMs: number;
  /** How often Node checks the two deadlines above (its default is 30 s). */
  checkIntervalMs: number;
  /**
   * Open connections beyond this are closed at once. Kept well under the usual 1024 file
   * limit: a flood must meet this cap, not EMFILE, which stops a Node server accepting at all.
   */
  maxConnections: number;
  /**
   * Work in line (webhook events, buyers' page requests) beyond which a buyers' page POST is
   * answered 503: anyone can POST there, so what it queues must have a ceiling.
   */
  workQueueMax: number;
}

/** POST /downloads: per client IP, counted by each process (contract: 10 a minute). */
export const BUYERS_PAGE_POSTS = Object.freeze({ limit: 10, windowMs: 60_000 });

export const HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  bodyLimit: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  idleTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxConnections: 512,
  workQueueMax: 100,
});
