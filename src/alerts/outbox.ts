import type { Clock } from "../clock";
import { LEASE_MS, Ledger } from "../ledger";
import type { Logger } from "../log";
import { redact } from "../redact";
import type { AlertChannel } from "./channel";

// Hands each recorded alert to each channel it was recorded for. The position advances only
// after the channel took it (litestream's rule): a failure leaves the send pending, and the next
// pass tries again. A channel that failed is not tried again in the same pass: when Resend is
// down, one refused send says so, and a backlog of alerts would only wait out its timeouts.

/** A pass delivers at most this many pending alerts per channel (a long outage leaves many). */
const PER_PASS = 20;

export interface OutboxDeps {
  ledger: Ledger;
  clock: Clock;
  log: Logger;
  /** Names this process in the sends' leases. */
  owner: string;
}

/** Delivers every pending alert send through its channel. Never throws: an alert never fails a pass. */
export async function deliverPendingAlerts(deps: OutboxDeps, channels: readonly AlertChannel[]): Promise<void> {
  for (const channel of channels) {
    try {
      await deliverThrough(deps, channel);
    } catch (err) {
      deps.log.error(`could not deliver alerts through the ${channel.shown}; tried again after the next pass`, { error: redact(String(err)) });
    }
  }
}

async function deliverThrough(deps: OutboxDeps, channel: AlertChannel): Promise<void> {
  const { ledger, clock, log, owner } = deps;
  for (const send of await ledger.pendingAlertSends(channel.name, PER_PASS)) {
    const now = clock.now();
    if ((send.lease_until !== null && send.lease_until >= now) || !(await ledger.claimAlertSend(send.alert.id, channel.name, owner, now, now + LEASE_MS))) {
      // Two passes finished at once and built the same alert: the other one is delivering it.
      log.info("another paidup process is sending this same alert; it records it", { alert: send.alert.id, channel: channel.name });
      continue;
    }
    const result = await channel.deliver(send.alert);
    if (result.ok) {
      await ledger.markAlertSent(send.alert.id, channel.name, owner, clock.now());
      if (send.attempts > 0) log.info(`alert delivered through the ${channel.shown} after ${send.attempts} failed attempt(s)`, { alert: send.alert.id });
      else log.debug(`alert delivered through the ${channel.shown}`, { alert: send.alert.id });
      continue;
    }
    await ledger.markAlertFailed(send.alert.id, channel.name, owner, redact(result.reason));
    if (result.elsewhere) {
      log.info("another paidup process is sending this same alert; it records it", { alert: send.alert.id, channel: channel.name });
      continue;
    }
    log.error(`alert through the ${channel.shown} failed; it is tried again after the next pass`, { alert: send.alert.id, kind: send.alert.kind, error: redact(result.reason) });
    return;
  }
}
