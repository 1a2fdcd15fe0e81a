import type { AlertChannel } from "../alerts";
import type { Clock } from "../clock";
import type { Config } from "../config";
import type { Ledger } from "../ledger";
import type { Logger } from "../log";
import type { Mailer } from "../delivery/mailer";
import type { Metrics } from "../metrics";
import type { StripeSource } from "../stripe/stripe-source";

/** What one pass (or one webhook delivery) works with. Everything with side effects is injected. */
export interface PassDeps {
  ledger: Ledger;
  stripe: StripeSource;
  /** null under --dry-run: nothing may be sent. */
  mailer: Mailer | null;
  config: Config;
  clock: Clock;
  log: Logger;
  /** Names this process in leases, so a claim can be told apart from another process's. */
  owner: string;
  /** Aborted on SIGTERM/SIGINT: no new claim is made, the send in flight completes. */
  signal?: AbortSignal;
  /**
   * Where alerts go (email to alertTo, the chat webhook), as the command's context found them.
   * Absent (tests that build deps by hand): email to alertTo through `mailer`, if both are set.
   */
  alertChannels?: readonly AlertChannel[];
  /** Counts passes, deliveries and failures for `GET /metrics`; absent in tests that don't look. */
  metrics?: Metrics;
}
