// The ledger: every charge a pass has seen, its state, and an append-only attempt history.
// Owns: all SQL (operations written once over the `Sql` port in this folder; DDL, migrations and
// drivers per backend in sqlite/ and postgres/). Callers use the `Ledger` object's named async
// operations, never the SQL functions behind them. May import: src/*.ts foundations only.
// ./open is also a door of its own, for commands that only look (start-up: this index's
// constants load the operation modules they live in).
export type { AlertKind, AlertMark, AlertRow, NewAlert, PendingAlertSend } from "./alerts";
export { BATCH, RECIPIENT } from "./announcements";
export type { AnnouncementRow, AudienceCandidate, BatchRow, BatchState, BuyerAnnouncement, NewAnnouncement, NewRecipient, RecipientRow, RecipientState } from "./announcements";
export type { AttemptRow, ChargeFacts, ChargeRow, StateChange } from "./charges";
export { IDEMPOTENCY_WINDOW_MS, SAFE_REPLAY_MS, LEASE_MS, sendKeyFor, UNKNOWN_OUTCOME_REASON } from "./deliveries";
export type { ClaimedDelivery, ClaimResult, DeliveryRow, FailedSend, PlannedDelivery } from "./deliveries";
export type { EventRow } from "./events";
export type { NewResendRow, ResendRunRow } from "./resends";
export { BOUNCE_TYPES, FINAL_TYPES } from "./email-events";
export type { EmailEvent, EmailEventRow } from "./email-events";
export { Ledger } from "./ledger";
export type { MetaKey } from "./meta";
export type { TableCopy } from "./move";
export * from "./open";
export type { Dialect, Driver, Params, Sql } from "./sql";
export type { AfterDeliveryEvent, AfterDeliveryRow, DownloadRequest, DownloadRequestRow, LinkId, LinkRow, NewLinks } from "./links";
export type { Activation, DisabledBy, InstanceRow, LicenseRow, NewLicense } from "./licenses";
export type { BytesWanted } from "./link-usage";
export { DOWNLOAD_LOG_KEEP } from "./link-usage";
