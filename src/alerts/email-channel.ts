import type { Mailer } from "../delivery/mailer";
import type { NewAlert } from "../ledger";
import type { AlertChannel, ChannelResult } from "./channel";

/** `alertTo` through Resend: the alert's subject and text as a plain email. */
export class EmailChannel implements AlertChannel {
  readonly name = "email";

  constructor(private readonly mailer: Mailer, private readonly from: string, private readonly to: string) {}

  get shown(): string {
    return `email to ${this.to}`;
  }

  async deliver(alert: NewAlert): Promise<ChannelResult> {
    await this.mailer.waitTurn();
    // One key per alert: a repeat after a lost answer (or a second process) is Resend's replay, not a second email.
    const result = await this.mailer.send({ from: this.from, to: this.to, subject: alert.subject, text: alert.body }, `paidup-alert-${alert.id}`);
    if (result.ok) return { ok: true };
    if (result.inFlightElsewhere) return { ok: false, reason: "another paidup process is sending this same alert", elsewhere: true };
    return { ok: false, reason: result.reason };
  }
}
