import { Counter, Gauge, Histogram, Registry } from "prom-client";

// What `GET /metrics` exposes, in one place. Counters count what this process did (its passes,
// its sends); the gauges about the ledger are read when Prometheus scrapes, so `serve` alone
// (passes run by cron in other processes) still reports stuck charges and the last good pass.

export type PassOutcome = "ok" | "attention" | "failed";

/** A send that did not end with an email id, in the classes the operator acts on differently. */
export type SendFailureClass = "rate_limited" | "quota" | "key_rejected" | "outcome_unknown" | "retryable" | "refused";

/** Read at scrape time; supplied by whoever owns the ledger and the mailer (the HTTP side). */
export interface MetricSources {
  stuckByState(): Promise<Record<string, number>>;
  /** Unix ms of the last successful pass, or null before any. */
  lastSuccessAt(): Promise<number | null>;
  /** Resend's rate limit as last seen on its answers; null before any answer. */
  rateLimit(): { limit: number | null; remaining: number | null; allowedPerSecond: number } | null;
}

/** The states a stuck charge can be in: always exported, so a 0 is a 0 and not a gap. */
const STUCK_STATES = ["sending", "retrying", "needs_review", "bounced"];

export class Metrics {
  readonly registry = new Registry();
  private sources: MetricSources | null = null;

  readonly passes = new Counter({ name: "paidup_passes_total", help: "Passes run by this process, by outcome (ok: as exit 0; attention: as exit 1; failed: as exit 3).", labelNames: ["outcome"], registers: [this.registry] });
  readonly deliveries = new Counter({ name: "paidup_deliveries_total", help: "Charges this process delivered (Resend returned an email id and the ledger recorded it).", registers: [this.registry] });
  readonly sendFailures = new Counter({ name: "paidup_send_failures_total", help: "Sends that did not deliver, by class.", labelNames: ["class"], registers: [this.registry] });
  readonly sendSeconds = new Histogram({
    name: "paidup_send_duration_seconds",
    help: "How long Resend took to answer one send request.",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    for (const outcome of ["ok", "attention", "failed"]) this.passes.inc({ outcome }, 0);
    const sources = () => this.sources;
    new Gauge({
      name: "paidup_stuck_charges",
      help: "Charges stuck in the ledger now, by state.",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        const counts = (await sources()?.stuckByState()) ?? {};
        this.reset();
        for (const state of new Set([...STUCK_STATES, ...Object.keys(counts)])) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: "paidup_last_successful_pass_timestamp_seconds",
      help: "When the last successful pass finished (Unix seconds; 0 before any).",
      registers: [this.registry],
      async collect() {
        const at = (await sources()?.lastSuccessAt()) ?? null;
        this.set(at === null ? 0 : at / 1000);
      },
    });
    new Gauge({
      name: "paidup_resend_ratelimit_remaining",
      help: "Requests left in Resend's current rate-limit window, from its last answer (-1: not seen yet).",
      registers: [this.registry],
      collect() {
        this.set(sources()?.rateLimit()?.remaining ?? -1);
      },
    });
    new Gauge({
      name: "paidup_resend_ratelimit_limit",
      help: "Resend's rate limit per window, from its last answer (-1: not seen yet).",
      registers: [this.registry],
      collect() {
        this.set(sources()?.rateLimit()?.limit ?? -1);
      },
    });
    new Gauge({
      name: "paidup_resend_allowed_sends_per_second",
      help: "The send rate this process paces to: resend.maxPerSecond, or Resend's limit when lower.",
      registers: [this.registry],
      collect() {
        this.set(sources()?.rateLimit()?.allowedPerSecond ?? 0);
      },
    });
  }

  watch(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The Prometheus text format, and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
