import { DatabaseUnavailable } from "../errors";
import type { LedgerState } from "../states";
import * as alerts from "./alerts";
import * as buyers from "./buyers";
import type { AlertMark, NewAlert, PendingAlertSend } from "./alerts";
import * as announce from "./announcements";
import * as marks from "./audience-marks";
import type { AnnouncementRow, AudienceCandidate, BatchRow, BatchState, BuyerAnnouncement, NewAnnouncement, RecipientRow, RecipientState } from "./announcements";
import * as charges from "./charges";
import type { AttemptRow, ChargeFacts, ChargeRow, StateChange } from "./charges";
import * as deliveryOps from "./deliveries";
import type { ClaimResult, DeliveryRow, FailedSend, PlannedDelivery } from "./deliveries";
import * as emailEvents from "./email-events";
import type { EmailEvent, EmailEventRow } from "./email-events";
import * as events from "./events";
import type { EventRow } from "./events";
import * as linkUsage from "./link-usage";
import type { BytesWanted } from "./link-usage";
import * as links from "./links";
import type { AfterDeliveryEvent, AfterDeliveryRow, DownloadRequest, DownloadRequestRow, LinkId, LinkRow, NewLinks } from "./links";
import * as licenses from "./licenses";
import type { Activation, InstanceRow, LicenseRow, NewLicense } from "./licenses";
import * as meta from "./meta";
import * as resends from "./resends";
import type { NewResendRow, ResendRunRow } from "./resends";
import type { MetaKey } from "./meta";
import type { Driver, Sql } from "./sql";
import { copyLedger, TableCopy } from "./move";
import { stuckCharges } from "./stuck";

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
    return this.transaction((src) => target.transaction((dst) => copyLedger(src.sql, dst.sql, target.where)));
  }

  // Charges
  getCharge = (id: string): Promise<ChargeRow | undefined> => charges.getCharge(this.sql, id);
  getState = (id: string): Promise<LedgerState | undefined> => charges.getState(this.sql, id);
  openCharges = (): Promise<ChargeRow[]> => charges.openCharges(this.sql);
  skippedWith = (reason: string): Promise<ChargeRow[]> => charges.skippedWith(this.sql, reason);
  recordState = (facts: ChargeFacts, to: LedgerState, change: StateChange, from: readonly LedgerState[], now: number): Promise<boolean> =>
    charges.recordState(this.sql, facts, to, change, from, now);
  attempts = (chargeId: string): Promise<AttemptRow[]> => charges.attemptsOf(this.sql, chargeId);
  requeue = (id: string, note: string, now: number): Promise<boolean> => charges.requeue(this.sql, id, note, now);
  takeInLine = (facts: ChargeFacts, note: string, now: number): Promise<boolean> => charges.takeInLine(this.sql, facts, note, now);
  resolveByHand = (id: string, note: string, now: number, facts?: ChargeFacts): Promise<boolean> => charges.resolveByHand(this.sql, id, note, now, facts);
  stuck = (sendingBefore: number): Promise<ChargeRow[]> => stuckCharges(this.sql, sendingBefore);
  unalertedStuck = (sendingBefore: number): Promise<ChargeRow[]> => charges.unalertedStuck(this.sql, sendingBefore);
  markAlerted = (ids: readonly string[]): Promise<void> => charges.markAlerted(this.sql, ids);

  // Resend's word on the emails sent: webhook events and polled statuses; bounces
  recordEmailEvent = (e: EmailEvent, now: number): Promise<{ fresh: boolean; charge: string | null }> => emailEvents.recordEmailEvent(this.sql, e, now);
  markBounced = (charge: string, emailId: string, reason: string, now: number): Promise<boolean> => emailEvents.markBounced(this.sql, charge, emailId, reason, now);
  emailEventsOf = (charge: string): Promise<EmailEventRow[]> => emailEvents.emailEventsOf(this.sql, charge);
  emailsToCheck = (sentSince: number, sentBefore: number, checkedBefore: number, limit: number): Promise<{ charge_id: string; email_id: string }[]> =>
    emailEvents.emailsToCheck(this.sql, sentSince, sentBefore, checkedBefore, limit);
  recordEmailCheck = (emailId: string, charge: string, lastEvent: string | null, now: number): Promise<void> =>
    emailEvents.recordEmailCheck(this.sql, emailId, charge, lastEvent, now);

  // Deliveries, one per (charge, product): claim → each send outside any transaction →
  // commitDelivered / commitFailure per product; the charge's state follows its deliveries.
  deliveries = (chargeId: string): Promise<DeliveryRow[]> => deliveryOps.deliveriesOf(this.sql, chargeId);
  claim = (facts: ChargeFacts, planned: readonly PlannedDelivery[], owner: string, now: number, fileReady?: (file: string) => boolean): Promise<ClaimResult> =>
    deliveryOps.claimDeliveries(this.sql, facts, planned, owner, now, fileReady);
  renewClaim = (chargeId: string, product: string, owner: string, now: number): Promise<boolean> => deliveryOps.renewClaim(this.sql, chargeId, product, owner, now);
  commitDelivered = (chargeId: string, product: string, emailId: string, now: number): Promise<void> =>
    deliveryOps.commitDelivered(this.sql, chargeId, product, emailId, now);
  commitFailure = (chargeId: string, product: string, owner: string, failure: FailedSend, now: number): Promise<void> =>
    deliveryOps.commitFailure(this.sql, chargeId, product, owner, failure, now);
  releaseClaim = (chargeId: string, product: string, owner: string, now: number): Promise<void> =>
    deliveryOps.releaseClaim(this.sql, chargeId, product, owner, now);
  abandonExpiredClaims = (chargeId: string, to: LedgerState, reason: string, now: number): Promise<boolean> =>
    deliveryOps.abandonExpiredClaims(this.sql, chargeId, to, reason, now);

  // Webhook events
  recordEvent = (e: { id: string; type: string; objectId: string | null }, now: number): Promise<boolean> => events.recordEvent(this.sql, e, now);
  markEventHandled = (id: string, now: number): Promise<void> => events.markEventHandled(this.sql, id, now);
  unhandledEvents = (): Promise<EventRow[]> => events.unhandledEvents(this.sql);

  // Meta: the start line, the watermark, the last pass
  getMeta = (key: MetaKey): Promise<string | undefined> => meta.getMeta(this.sql, key);
  setMeta = (key: MetaKey, value: string): Promise<void> => meta.setMeta(this.sql, key, value);
  deleteMeta = (key: MetaKey): Promise<void> => meta.deleteMeta(this.sql, key);
  insertMeta = (key: MetaKey, value: string): Promise<boolean> => meta.insertMeta(this.sql, key, value);

  // Download links (./links): issued per rendering, counted, logged; revoked after a refund or dispute
  linkKey = (): Promise<string> => links.linkKey(this.sql);
  issueLinks = (req: NewLinks, now: number): Promise<LinkRow[]> => links.issueLinks(this.sql, req, now);
  getLink = (id: LinkId): Promise<LinkRow | undefined> => links.getLink(this.sql, id);
  renderedLinks = (charge: string, product: string, source: string): Promise<LinkRow[]> => links.renderedLinks(this.sql, charge, product, source);
  acceptLinks = (charge: string, product: string, source: string, at: number): Promise<void> => links.acceptLinks(this.sql, charge, product, source, at);
  takeLinkBytes = (id: LinkId, want: BytesWanted): Promise<boolean> => linkUsage.takeLinkBytes(this.sql, id, want);
  logDownloadRequest = (r: DownloadRequest, unsent = 0): Promise<void> => linkUsage.logDownloadRequest(this.sql, r, unsent);
  downloadRequests = (charge: string): Promise<DownloadRequestRow[]> => links.downloadRequestsOf(this.sql, charge);
  recordAfterDelivery = (charge: string, event: AfterDeliveryEvent, at: number, now: number): Promise<boolean> =>
    links.recordAfterDelivery(this.sql, charge, event, at, now);
  isRevoked = (charge: string): Promise<boolean> => links.isRevoked(this.sql, charge);
  afterDeliverySince = (since: number): Promise<AfterDeliveryRow[]> => links.afterDeliverySince(this.sql, since);
  afterDeliveryOf = (charge: string): Promise<AfterDeliveryRow[]> => links.afterDeliveryOf(this.sql, charge);
  unalertedDisputes = (): Promise<AfterDeliveryRow[]> => links.unalertedDisputes(this.sql);
  markDisputesAlerted = (charges: readonly string[]): Promise<void> => links.markDisputesAlerted(this.sql, charges);
  takeBuyerRequest = (email: string, now: number, windowMs: number): Promise<boolean> => links.takeBuyerRequest(this.sql, email, now, windowMs);
  deliveredChargesOf = (email: string): Promise<{ id: string; product: string | null; name: string | null; email: string }[]> => links.deliveredChargesOf(this.sql, email);

  // Alerts to the owner (./alerts): recorded once, delivered per channel
  recordAlert = (a: NewAlert, channels: readonly string[], mark: AlertMark, now: number): Promise<boolean> => alerts.recordAlert(this.sql, a, channels, mark, now);
  pendingAlertSends = (channel: string, limit: number): Promise<PendingAlertSend[]> => alerts.pendingAlertSends(this.sql, channel, limit);
  claimAlertSend = (alertId: string, channel: string, owner: string, now: number, leaseUntil: number): Promise<boolean> =>
    alerts.claimAlertSend(this.sql, alertId, channel, owner, now, leaseUntil);
  markAlertSent = (alertId: string, channel: string, owner: string, now: number): Promise<void> => alerts.markAlertSent(this.sql, alertId, channel, owner, now);
  markAlertFailed = (alertId: string, channel: string, owner: string, error: string): Promise<void> => alerts.markAlertFailed(this.sql, alertId, channel, owner, error);

  // License keys (./licenses): one per (charge, product), activations counted atomically
  issueLicense = (req: NewLicense, now: number): Promise<LicenseRow> => licenses.issueLicense(this.sql, req, now);
  licenseOf = (charge: string, product: string): Promise<LicenseRow | undefined> => licenses.licenseOf(this.sql, charge, product);
  licenseByHash = (hash: string): Promise<LicenseRow | undefined> => licenses.licenseByHash(this.sql, hash);
  licensesOfCharge = (charge: string): Promise<LicenseRow[]> => licenses.licensesOfCharge(this.sql, charge);
  licenseInstances = (keyId: string): Promise<InstanceRow[]> => licenses.instancesOf(this.sql, keyId);
  licenseInstancesOfCharge = (charge: string): Promise<(InstanceRow & { product: string })[]> => licenses.instancesOfCharge(this.sql, charge);
  licenseInstance = (keyId: string, instanceId: string): Promise<InstanceRow | undefined> => licenses.getInstance(this.sql, keyId, instanceId);
  activateLicense = (keyId: string, instance: { id: string; name: string; ip: string }, now: number): Promise<Activation> =>
    licenses.activateLicense(this.sql, keyId, instance, now);
  deactivateInstance = (keyId: string, instanceId: string, now: number): Promise<boolean> => licenses.deactivateInstance(this.sql, keyId, instanceId, now);
  setLicenseEnabled = (keyId: string, enabled: boolean, now: number): Promise<boolean> => licenses.setLicenseEnabled(this.sql, keyId, enabled, now);
  enableAfterDisputeWon = (charge: string, now: number): Promise<boolean> => licenses.enableAfterDisputeWon(this.sql, charge, now);
  hasKeyDisabledByDispute = (charge: string): Promise<boolean> => licenses.hasKeyDisabledByDispute(this.sql, charge);

  // One buyer, for `lookup` (./buyers)
  chargesOfBuyer = (email: string): Promise<ChargeRow[]> => buyers.chargesOfBuyer(this.sql, email);
  formerAddresses = (charge: string): Promise<string[]> => buyers.formerAddresses(this.sql, charge);
  downloadCount = (charge: string): Promise<number> => buyers.downloadCount(this.sql, charge);

  // `paidup resend` (./resends): numbered runs, each completed before the next starts
  nextResendNumber = (charge: string): Promise<number> => resends.nextResendNumber(this.sql, charge);
  pendingResendRun = (charge: string): Promise<ResendRunRow[] | null> => resends.pendingResendRun(this.sql, charge);
  storeResendRun = (charge: string, run: number, rows: readonly NewResendRow[], now: number): Promise<boolean> => resends.storeResendRun(this.sql, charge, run, rows, now);
  recordResent = (r: Parameters<typeof resends.recordResent>[1]): Promise<void> => resends.recordResent(this.sql, r);
  recordResendFailed = (r: Parameters<typeof resends.recordResendFailed>[1]): Promise<void> => resends.recordResendFailed(this.sql, r);
  closeUnknownResend = (r: Parameters<typeof resends.closeUnknownResend>[1]): Promise<void> => resends.closeUnknownResend(this.sql, r);

  // Announcements to past buyers (./announcements): the audience stored once, recorded batches
  // claimed → sent outside any transaction → committed on Resend's ids; unsubscribed addresses.
  getAnnouncement = (id: string): Promise<AnnouncementRow | undefined> => announce.getAnnouncement(this.sql, id);
  audienceCandidates = (product: string): Promise<AudienceCandidate[]> => announce.audienceCandidates(this.sql, product);
  latestPurchaseBounced = (): Promise<Map<string, boolean>> => announce.latestPurchaseBounced(this.sql);
  unsubscribedAddresses = (): Promise<Set<string>> => marks.unsubscribedAddresses(this.sql);
  createAnnouncement = (a: NewAnnouncement, now: number): Promise<boolean> => announce.createAnnouncement(this.sql, a, now);
  recipientCounts = (id: string): Promise<Record<RecipientState, number>> => announce.recipientCounts(this.sql, id);
  lockAnnouncement = (id: string, now: number): Promise<void> => announce.lockAnnouncement(this.sql, id, now);
  batchesInState = (id: string, state: BatchState): Promise<BatchRow[]> => announce.batchesInState(this.sql, id, state);
  batchMembers = (key: string): Promise<RecipientRow[]> => announce.batchMembers(this.sql, key);
  pendingRecipients = (id: string, limit: number): Promise<RecipientRow[]> => announce.pendingRecipients(this.sql, id, limit);
  skipUnsubscribed = (id: string, positions: readonly number[], now: number): Promise<void> => announce.skipUnsubscribed(this.sql, id, positions, now);
  nextBatchNumber = (id: string): Promise<number> => announce.nextBatchNumber(this.sql, id);
  recordBatch = (b: Parameters<typeof announce.recordBatch>[1], now: number): Promise<void> => announce.recordBatch(this.sql, b, now);
  takeOverBatch = (key: string, owner: string, leaseMs: number, now: number, deadOwner: string | null): Promise<boolean> =>
    announce.takeOverBatch(this.sql, key, owner, leaseMs, now, deadOwner);
  renewBatchLease = (key: string, owner: string, leaseMs: number, now: number): Promise<boolean> => announce.renewBatchLease(this.sql, key, owner, leaseMs, now);
  commitBatchSent = (key: string, ids: readonly string[], now: number): Promise<void> => announce.commitBatchSent(this.sql, key, ids, now);
  commitBatchFailed = (key: string, error: string, now: number): Promise<void> => announce.commitBatchFailed(this.sql, key, error, now);
  splitBatch = (key: string, halves: Parameters<typeof announce.splitBatch>[2], owner: string, leaseMs: number, error: string, now: number): Promise<void> =>
    announce.splitBatch(this.sql, key, halves, owner, leaseMs, error, now);
  releaseBatch = (key: string, owner: string, error: string, now: number): Promise<void> => announce.releaseBatch(this.sql, key, owner, error, now);
  expireBatch = (key: string, error: string, now: number): Promise<void> => announce.expireBatch(this.sql, key, error, now);
  startLinkExpiry = (key: string, source: string, acceptedAt: number): Promise<void> => announce.startLinkExpiry(this.sql, key, source, acceptedAt);
  unsubscribe = (email: string, source: string, now: number): Promise<boolean> => marks.unsubscribe(this.sql, email, source, now);
  isUnsubscribed = (email: string): Promise<boolean> => marks.isUnsubscribed(this.sql, email);
  announcementsOf = (email: string): Promise<BuyerAnnouncement[]> => announce.announcementsOf(this.sql, email);
  peekLinkKey = (): Promise<string | undefined> => announce.peekLinkKey(this.sql);
  recordDisputeWon = (charge: string, now: number): Promise<boolean> => marks.recordDisputeWon(this.sql, charge, now);
}
