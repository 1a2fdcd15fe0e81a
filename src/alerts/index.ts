// Alerts to the owner, as channels behind one small interface (the way litestream's replica
// clients sit behind one): email through Resend to `alertTo`, and a chat webhook
// (PAIDUP_ALERT_WEBHOOK_URL: Slack, Mattermost, Google Chat, Discord). The pass decides what to
// alert and records it once in the ledger (pass/alerts.ts); a channel only delivers one alert
// and reports back; the outbox (outbox.ts) hands each recorded alert to each channel and keeps
// a failed channel's send pending for a later pass.
// May import: src/*.ts foundations, ledger/, delivery/ (the mailer the email channel sends with).
export type { AlertChannel, ChannelResult } from "./channel";
export { EmailChannel } from "./email-channel";
export { WebhookChannel, webhookChannelFromEnv, webhookBody, DISCORD_LIMIT } from "./webhook-channel";
export { deliverPendingAlerts } from "./outbox";
