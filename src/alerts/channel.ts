import type { NewAlert } from "../ledger";

/** What a channel says after one delivery: taken, or why not (kept on its ledger row). */
export type ChannelResult =
  | { ok: true }
  /** `elsewhere`: another process is delivering the same alert right now; nothing failed. */
  | { ok: false; reason: string; elsewhere?: boolean };

/**
 * One way an alert reaches the owner. It delivers one alert and reports back; it never decides
 * what to alert, records nothing and never throws (a failure is a result, not an exception).
 */
export interface AlertChannel {
  /** The name of its rows in the ledger: `email` or `webhook`. */
  readonly name: string;
  /** Where it delivers, fit for a log line and for `check`: no secret in it. */
  readonly shown: string;
  deliver(alert: NewAlert): Promise<ChannelResult>;
}
