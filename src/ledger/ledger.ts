import { DatabaseUnavailable } from "../errors";
import type { LedgerState } from "../states";
import type * as alerts from "./alerts";
import type { AlertMark, NewAlert, PendingAlertSend } from "./alerts";
import type * as announce from "./announcements";
import type { AnnouncementRow, AudienceCandidate, BatchRow, BatchState, BuyerAnnouncement, NewAnnouncement, RecipientRow, RecipientState } from "./announcements";
import type * as marks from "./audience-marks";
import type * as buyers from "./buyers";
import type * as charges from "./charges";
import type { AttemptRow, ChargeFacts, ChargeRow, StateChange } from "./charges";
import type * as deliveryOps from "./deliveries";
import type { ClaimResult, DeliveryRow, FailedSend, PlannedDelivery } from "./deliveries";
import type * as emailEvents from "./email-events";
import type { EmailEvent, EmailEventRow } from "./email-events";
import type * as events from "./events";
import type { EventRow } from "./events";
import type * as licenses from "./licenses";
import type { Activation, InstanceRow, LicenseRow, NewLicense } from "./licenses";
import type * as linkUsage from "./link-usage";
import type { BytesWanted } from "./link-usage";
import type * as links from "./links";
import type { AfterDeliveryEvent, AfterDeliveryRow, DownloadRequest, DownloadRequestRow, LinkId, LinkRow, NewLinks } from "./links";
import type * as meta from "./meta";
import type { MetaKey } from "./meta";
import type * as move from "./move";
import type { TableCopy } from "./move";
import type * as resends from "./resends";
import type { NewResendRow, ResendRunRow } from "./resends";
import type { Driver, Sql } from "./sql";
import type * as stuck from "./stuck";

/**
 * The operation modules, each required on first use rather than with the class: `status
 * --offline`, which a cron monitor runs every minute, needs two of them, and on Node 20 (no
 * compile cache) every module loaded adds to its start-up (test/startup.test.ts pins this).
 * The types come from the `import type` lines above, so nothing is lost to the compiler.
 */
function lazy<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}
/* eslint-disable @typescript-eslint/no-require-imports */
const op = {
  alerts: lazy(() => require("./alerts") as typeof alerts),
  announce: lazy(() => require("./announcements") as typeof announce),
  marks: lazy(() => require("./audience-marks") as typeof marks),
  buyers: lazy(() => require("./buyers") as typeof buyers),
  charges: lazy(() => require("./charges") as typeof charges),
  deliveries: lazy(() => require("./deliveries") as typeof deliveryOps),
  emailEvents: lazy(() => require("./email-events") as typeof emailEvents),
  events: lazy(() => require("./events") as typeof events),
  licenses: lazy(() => require("./licenses") as typeof licenses),
  linkUsage: lazy(() => require("./link-usage") as typeof linkUsage),
  links: lazy(() => require("./links") as typeof links),
  meta: lazy(() => require("./meta") as typeof meta),
  move: lazy(() => require("./move") as typeof move),
  resends: lazy(() => require("./resends") as typeof resends),
  stuck: lazy(() => require("./stuck") as typeof stuck),
};
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The ledger as the rest of paidup sees it, in the manner of pg-boss's manager: a small set of
 * named async operations. Each is written once (./charges, ./claims, ./events, ./meta, ./stuck)
 * over the `Sql` port, so SQLite and PostgreSQL run the same statements.
 *
 * Inside `transaction(fn)`, `fn` gets a Ledger bound to that transaction: use it, not the outer
 * one (which waits for the transaction to end). Operations that need several statements open
 * their own transaction, or join the caller's.
 */
export class Ledger {
  constructor(
    private readonly driver: Driver,
    private readonly sql: Sql = driver,
  ) {}

  get dialect(): Driver["dialect"] {
    return this.driver.dialect;
  }

  /** Where the ledger lives, for messages: a path, or a URL without its password. */
  get where(): string {
    return this.driver.where;
  }

  transaction<T>(fn: (tx: Ledger) => Promise<T>): Promise<T> {
    return this.sql.transaction((tx) => fn(tx === this.sql ? this : new Ledger(this.driver, tx)));
  }

  asLedgerError(err: unknown): Error {
    return this.driver.asLedgerError(err);
  }

  /** Whether `err` (raw, or as asLedgerError made it) says the database server is unavailable for now. */
  unavailable(err: unknown): boolean {
    if (err instanceof DatabaseUnavailable) return true;
    return this.driver.unavailable?.(err) ?? false;
  }

  probeWrite(): Promise<void> {
    return this.driver.probeWrite();
  }

  async verifyIdentity(): Promise<void> {
    await this.driver.verifyIdentity?.();
  }

  async integrityProblems(): Promise<string[]> {
    return (await this.driver.integrityProblems?.()) ?? [];
  }

  schemaVersion(): Promise<number> {
    return this.driver.schemaVersion();
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  /**
   * `move-ledger`: copies this (SQLite) ledger into `target` (an empty PostgreSQL ledger), holding
   * this one's write lock throughout so no pass changes it meanwhile, and commits the copy only
   * once every table read back matches. This ledger is only read.
   */
  copyInto(target: Ledger): Promise<TableCopy[]> {
    return this.transaction((src) => target.transaction((dst) => op.move().copyLedger(src.sql, dst.sql, target.where)));
  }

  // Charges
  getCharge = (id: string): Promise<ChargeRow | undefined> => op.charges().getCharge(this.sql, id);
  getState = (id: string): Promise<LedgerState | undefined> => op.charges().getState(this.sql, id);
  openCharges = (): Promise<ChargeRow[]> => op.charges().openCharges(this.sql);
  skippedWith = (reason: string): Promise<ChargeRow[]> => op.charges().skippedWith(this.sql, reason);
  recordState = (facts: ChargeFacts, to: LedgerState, change: StateChange, from: readonly LedgerState[], now: number): Promise<boolean> =>
    op.charges().recordState(this.sql, facts, to, change, from, now);
  attempts = (chargeId: string): Promise<AttemptRow[]> => op.charges().attemptsOf(this.sql, chargeId);
  requeue = (id: string, note: string, now: number): Promise<boolean> => op.charges().requeue(this.sql, id, note, now);
  takeInLine = (facts: ChargeFacts, note: string, now: number): Promise<boolean> => op.charges().takeInLine(this.sql, facts, note, now);
  resolveByHand = (id: string, note: string, now: number, facts?: ChargeFacts): Promise<boolean> => op.charges().resolveByHand(this.sql, id, note, now, facts);
  stuck = (sendingBefore: number): Promise<ChargeRow[]> => op.stuck().stuckCharges(this.sql, sendingBefore);
  unalertedStuck = (sendingBefore: number): Promise<ChargeRow[]> => op.charges().unalertedStuck(this.sql, sendingBefore);
  markAlerted = (ids: readonly string[]): Promise<void> => op.charges().markAlerted(this.sql, ids);

  // Resend's word on the emails sent: webhook events and polled statuses; bounces
  recordEmailEvent = (e: EmailEvent, now: number): Promise<{ fresh: boolean; charge: string | null }> => op.emailEvents().recordEmailEvent(this.sql, e, now);
  markBounced = (charge: string, emailId: string, reason: string, now: number): Promise<boolean> => op.emailEvents().markBounced(this.sql, charge, emailId, reason, now);
  emailEventsOf = (charge: string): Promise<EmailEventRow[]> => op.emailEvents().emailEventsOf(this.sql, charge);
  emailsToCheck = (sentSince: number, sentBefore: number, checkedBefore: number, limit: number): Promise<{ charge_id: string; email_id: string }[]> =>
    op.emailEvents().emailsToCheck(this.sql, sentSince, sentBefore, checkedBefore, limit);
  recordEmailCheck = (emailId: string, charge: string, lastEvent: string | null, now: number): Promise<void> =>
    op.emailEvents().recordEmailCheck(this.sql, emailId, charge, lastEvent, now);

  // Deliveries, one per (charge, product): claim → each send outside any transaction →
  // commitDelivered / commitFailure per product; the charge's state follows its deliveries.
  deliveries = (chargeId: string): Promise<DeliveryRow[]> => op.deliveries().deliveriesOf(this.sql, chargeId);
  claim = (facts: ChargeFacts, planned: readonly PlannedDelivery[], owner: string, now: number, fileReady?: (file: string) => boolean): Promise<ClaimResult> =>
    op.deliveries().claimDeliveries(this.sql, facts, planned, owner, now, fileReady);
  renewClaim = (chargeId: string, product: string, owner: string, now: number): Promise<boolean> => op.deliveries().renewClaim(this.sql, chargeId, product, owner, now);
  commitDelivered = (chargeId: string, product: string, emailId: string, now: number): Promise<void> =>
    op.deliveries().commitDelivered(this.sql, chargeId, product, emailId, now);
  commitFailure = (chargeId: string, product: string, owner: string, failure: FailedSend, now: number): Promise<void> =>
    op.deliveries().commitFailure(this.sql, chargeId, product, owner, failure, now);
  releaseClaim = (chargeId: string, product: string, owner: string, now: number): Promise<void> =>
    op.deliveries().releaseClaim(this.sql, chargeId, product, owner, now);
  abandonExpiredClaims = (chargeId: string, to: LedgerState, reason: string, now: number): Promise<boolean> =>
    op.deliveries().abandonExpiredClaims(this.sql, chargeId, to, reason, now);

  // Webhook events
  recordEvent = (e: { id: string; type: string; objectId: string | null }, now: number): Promise<boolean> => op.events().recordEvent(this.sql, e, now);
  markEventHandled = (id: string, now: number): Promise<void> => op.events().markEventHandled(this.sql, id, now);
  unhandledEvents = (): Promise<EventRow[]> => op.events().unhandledEvents(this.sql);

  // Meta: the start line, the watermark, the last pass
  getMeta = (key: MetaKey): Promise<string | undefined> => op.meta().getMeta(this.sql, key);
  setMeta = (key: MetaKey, value: string): Promise<void> => op.meta().setMeta(this.sql, key, value);
  deleteMeta = (key: MetaKey): Promise<void> => op.meta().deleteMeta(this.sql, key);
  insertMeta = (key: MetaKey, value: string): Promise<boolean> => op.meta().insertMeta(this.sql, key, value);

  // Download links (./links): issued per rendering, counted, logged; revoked after a refund or dispute
  linkKey = (): Promise<string> => op.links().linkKey(this.sql);
  issueLinks = (req: NewLinks, now: number): Promise<LinkRow[]> => op.links().issueLinks(this.sql, req, now);
  getLink = (id: LinkId): Promise<LinkRow | undefined> => op.links().getLink(this.sql, id);
  renderedLinks = (charge: string, product: string, source: string): Promise<LinkRow[]> => op.links().renderedLinks(this.sql, charge, product, source);
  acceptLinks = (charge: string, product: string, source: string, at: number): Promise<void> => op.links().acceptLinks(this.sql, charge, product, source, at);
  takeLinkBytes = (id: LinkId, want: BytesWanted): Promise<boolean> => op.linkUsage().takeLinkBytes(this.sql, id, want);
  logDownloadRequest = (r: DownloadRequest, unsent = 0): Promise<void> => op.linkUsage().logDownloadRequest(this.sql, r, unsent);
  downloadRequests = (charge: string): Promise<DownloadRequestRow[]> => op.links().downloadRequestsOf(this.sql, charge);
  recordAfterDelivery = (charge: string, event: AfterDeliveryEvent, at: number, now: number): Promise<boolean> =>
    op.links().recordAfterDelivery(this.sql, charge, event, at, now);
  isRevoked = (charge: string): Promise<boolean> => op.links().isRevoked(this.sql, charge);
  afterDeliverySince = (since: number): Promise<AfterDeliveryRow[]> => op.links().afterDeliverySince(this.sql, since);
  afterDeliveryOf = (charge: string): Promise<AfterDeliveryRow[]> => op.links().afterDeliveryOf(this.sql, charge);
  unalertedDisputes = (): Promise<AfterDeliveryRow[]> => op.links().unalertedDisputes(this.sql);
  markDisputesAlerted = (charges: readonly string[]): Promise<void> => op.links().markDisputesAlerted(this.sql, charges);
  takeBuyerRequest = (email: string, now: number, windowMs: number): Promise<boolean> => op.links().takeBuyerRequest(this.sql, email, now, windowMs);
  deliveredChargesOf = (email: string): Promise<{ id: string; product: string | null; name: string | null; email: string }[]> => op.links().deliveredChargesOf(this.sql, email);

  // Alerts to the owner (./alerts): recorded once, delivered per channel
  recordAlert = (a: NewAlert, channels: readonly string[], mark: AlertMark, now: number): Promise<boolean> => op.alerts().recordAlert(this.sql, a, channels, mark, now);
  pendingAlertSends = (channel: string, limit: number): Promise<PendingAlertSend[]> => op.alerts().pendingAlertSends(this.sql, channel, limit);
  claimAlertSend = (alertId: string, channel: string, owner: string, now: number, leaseUntil: number): Promise<boolean> =>
    op.alerts().claimAlertSend(this.sql, alertId, channel, owner, now, leaseUntil);
  markAlertSent = (alertId: string, channel: string, owner: string, now: number): Promise<void> => op.alerts().markAlertSent(this.sql, alertId, channel, owner, now);
  markAlertFailed = (alertId: string, channel: string, owner: string, error: string): Promise<void> => op.alerts().markAlertFailed(this.sql, alertId, channel, owner, error);

  // License keys (./licenses): one per (charge, product), activations counted atomically
  issueLicense = (req: NewLicense, now: number): Promise<LicenseRow> => op.licenses().issueLicense(this.sql, req, now);
  licenseOf = (charge: string, product: string): Promise<LicenseRow | undefined> => op.licenses().licenseOf(this.sql, charge, product);
  licenseByHash = (hash: string): Promise<LicenseRow | undefined> => op.licenses().licenseByHash(this.sql, hash);
  licensesOfCharge = (charge: string): Promise<LicenseRow[]> => op.licenses().licensesOfCharge(this.sql, charge);
  licenseInstances = (keyId: string): Promise<InstanceRow[]> => op.licenses().instancesOf(this.sql, keyId);
  licenseInstancesOfCharge = (charge: string): Promise<(InstanceRow & { product: string })[]> => op.licenses().instancesOfCharge(this.sql, charge);
  licenseInstance = (keyId: string, instanceId: string): Promise<InstanceRow | undefined> => op.licenses().getInstance(this.sql, keyId, instanceId);
  activateLicense = (keyId: string, instance: { id: string; name: string; ip: string }, now: number): Promise<Activation> =>
    op.licenses().activateLicense(this.sql, keyId, instance, now);
  deactivateInstance = (keyId: string, instanceId: string, now: number): Promise<boolean> => op.licenses().deactivateInstance(this.sql, keyId, instanceId, now);
  setLicenseEnabled = (keyId: string, enabled: boolean, now: number): Promise<boolean> => op.licenses().setLicenseEnabled(this.sql, keyId, enabled, now);
  enableAfterDisputeWon = (charge: string, now: number): Promise<boolean> => op.licenses().enableAfterDisputeWon(this.sql, charge, now);
  hasKeyDisabledByDispute = (charge: string): Promise<boolean> => op.licenses().hasKeyDisabledByDispute(this.sql, charge);

  // One buyer, for `lookup` (./buyers)
  chargesOfBuyer = (email: string): Promise<ChargeRow[]> => op.buyers().chargesOfBuyer(this.sql, email);
  formerAddresses = (charge: string): Promise<string[]> => op.buyers().formerAddresses(this.sql, charge);
  downloadCount = (charge: string): Promise<number> => op.buyers().downloadCount(this.sql, charge);

  // `paidup resend` (./resends): numbered runs, each completed before the next starts
  nextResendNumber = (charge: string): Promise<number> => op.resends().nextResendNumber(this.sql, charge);
  pendingResendRun = (charge: string): Promise<ResendRunRow[] | null> => op.resends().pendingResendRun(this.sql, charge);
  storeResendRun = (charge: string, run: number, rows: readonly NewResendRow[], now: number): Promise<boolean> => op.resends().storeResendRun(this.sql, charge, run, rows, now);
  recordResent = (r: Parameters<typeof resends.recordResent>[1]): Promise<void> => op.resends().recordResent(this.sql, r);
  recordResendFailed = (r: Parameters<typeof resends.recordResendFailed>[1]): Promise<void> => op.resends().recordResendFailed(this.sql, r);
  closeUnknownResend = (r: Parameters<typeof resends.closeUnknownResend>[1]): Promise<void> => op.resends().closeUnknownResend(this.sql, r);

  // Announcements to past buyers (./announcements): the audience stored once, recorded batches
  // claimed → sent outside any transaction → committed on Resend's ids; unsubscribed addresses.
  getAnnouncement = (id: string): Promise<AnnouncementRow | undefined> => op.announce().getAnnouncement(this.sql, id);
  audienceCandidates = (product: string): Promise<AudienceCandidate[]> => op.announce().audienceCandidates(this.sql, product);
  latestPurchaseBounced = (): Promise<Map<string, boolean>> => op.announce().latestPurchaseBounced(this.sql);
  unsubscribedAddresses = (): Promise<Set<string>> => op.marks().unsubscribedAddresses(this.sql);
  createAnnouncement = (a: NewAnnouncement, now: number): Promise<boolean> => op.announce().createAnnouncement(this.sql, a, now);
  recipientCounts = (id: string): Promise<Record<RecipientState, number>> => op.announce().recipientCounts(this.sql, id);
  lockAnnouncement = (id: string, now: number): Promise<void> => op.announce().lockAnnouncement(this.sql, id, now);
  batchesInState = (id: string, state: BatchState): Promise<BatchRow[]> => op.announce().batchesInState(this.sql, id, state);
  batchMembers = (key: string): Promise<RecipientRow[]> => op.announce().batchMembers(this.sql, key);
  pendingRecipients = (id: string, limit: number): Promise<RecipientRow[]> => op.announce().pendingRecipients(this.sql, id, limit);
  skipUnsubscribed = (id: string, positions: readonly number[], now: number): Promise<void> => op.announce().skipUnsubscribed(this.sql, id, positions, now);
  nextBatchNumber = (id: string): Promise<number> => op.announce().nextBatchNumber(this.sql, id);
  recordBatch = (b: Parameters<typeof announce.recordBatch>[1], now: number): Promise<void> => op.announce().recordBatch(this.sql, b, now);
  takeOverBatch = (key: string, owner: string, leaseMs: number, now: number, deadOwner: string | null): Promise<boolean> =>
    op.announce().takeOverBatch(this.sql, key, owner, leaseMs, now, deadOwner);
  renewBatchLease = (key: string, owner: string, leaseMs: number, now: number): Promise<boolean> => op.announce().renewBatchLease(this.sql, key, owner, leaseMs, now);
  commitBatchSent = (key: string, ids: readonly string[], now: number): Promise<void> => op.announce().commitBatchSent(this.sql, key, ids, now);
  commitBatchFailed = (key: string, error: string, now: number): Promise<void> => op.announce().commitBatchFailed(this.sql, key, error, now);
  splitBatch = (key: string, halves: Parameters<typeof announce.splitBatch>[2], owner: string, leaseMs: number, error: string, now: number): Promise<void> =>
    op.announce().splitBatch(this.sql, key, halves, owner, leaseMs, error, now);
  releaseBatch = (key: string, owner: string, error: string, now: number): Promise<void> => op.announce().releaseBatch(this.sql, key, owner, error, now);
  expireBatch = (key: string, error: string, now: number): Promise<void> => op.announce().expireBatch(this.sql, key, error, now);
  startLinkExpiry = (key: string, source: string, acceptedAt: number): Promise<void> => op.announce().startLinkExpiry(this.sql, key, source, acceptedAt);
  unsubscribe = (email: string, source: string, now: number): Promise<boolean> => op.marks().unsubscribe(this.sql, email, source, now);
  isUnsubscribed = (email: string): Promise<boolean> => op.marks().isUnsubscribed(this.sql, email);
  announcementsOf = (email: string): Promise<BuyerAnnouncement[]> => op.announce().announcementsOf(this.sql, email);
  peekLinkKey = (): Promise<string | undefined> => op.announce().peekLinkKey(this.sql);
  recordDisputeWon = (charge: string, now: number): Promise<boolean> => op.marks().recordDisputeWon(this.sql, charge, now);
}
