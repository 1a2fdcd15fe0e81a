import crypto from "node:crypto";
import os from "node:os";
import { AlertChannel, webhookChannelFromEnv } from "../alerts";
import { systemClock } from "../clock";
import { Config, Env, loadConfig } from "../config";
import { Mailer } from "../delivery/mailer";
import type { NewAlert } from "../ledger";
import { redact } from "../redact";
import type { CheckResult } from "./checks";
import { alertChannels } from "./context";

// `paidup check --alert`: one test alert through every channel a pass would alert through, so
// the owner sees it arrive (and a chat webhook that refuses it is found now, not during an
// outage). Nothing is recorded in the ledger: a test alert is not an alert anybody must act on.

function testAlert(): NewAlert {
  return {
    // Its own id each run: Resend must send it, not replay the last test under the same key.
    id: `test-${crypto.randomBytes(8).toString("hex")}`,
    kind: "test",
    subject: "[paidup] test alert",
    body: `This is a test alert from \`paidup check --alert\` on ${os.hostname()}. When a paid charge is stuck, a delivery bounces, a delivered charge is disputed or passes keep failing, the alert comes here.`,
    charges: [],
  };
}

/** The channels configured, each given one test alert: one check line per channel. */
export async function sendTestAlerts(env: Env): Promise<CheckResult[]> {
  let config: Config | null = null;
  try {
    config = loadConfig(env.configPath);
  } catch {
    config = null; // already a failed `config` line; the webhook may still be tried
  }
  let webhook: AlertChannel | null = null;
  try {
    webhook = webhookChannelFromEnv(env.alertWebhookUrl);
  } catch {
    webhook = null; // already a failed `alert webhook` line
  }
  const mailer = config?.alertTo && env.resendApiKey ? Mailer.create(env.resendApiKey, systemClock, config.resend.maxPerSecond) : null;
  const channels = config ? alertChannels(config, mailer, webhook) : webhook ? [webhook] : [];
  if (channels.length === 0) {
    const why = config?.alertTo && !env.resendApiKey ? "alertTo is set but RESEND_API_KEY is not" : "no alert channel is configured";
    return [{ name: "test alert", ok: false, detail: `${why}: set alertTo in the config (email through Resend) or PAIDUP_ALERT_WEBHOOK_URL (a chat webhook)` }];
  }
  const alert = testAlert();
  const results: CheckResult[] = [];
  for (const channel of channels) {
    const r = await channel.deliver(alert);
    results.push({ name: `test alert through the ${channel.shown}`, ok: r.ok, detail: r.ok ? "sent" : redact(r.reason) });
  }
  return results;
}
