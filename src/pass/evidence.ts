import { Resend } from "resend";
import type Stripe from "stripe";
import type { StoredPayload } from "../delivery/payload";
import { formatAmount } from "../delivery/templates";
import { isoMs } from "../duration";
import { UsageError } from "../errors";
import type { Ledger } from "../ledger";
import { redact } from "../redact";
import type { StripeSource } from "../stripe/stripe-source";

// `paidup evidence <charge>`: what Stripe's dispute form asks of digital goods (service date,
// customer email, access activity log), from the ledger: every email Resend accepted for the
// charge, every activation of its license keys and every request made through its download links.

export interface EvidenceEmail {
  kind: "delivery" | "resend";
  emailId: string;
  at: string;
  to: string | null;
  /** Resend's last event for the email (delivered, bounced…), or null when it could not be asked. */
  lastStatus: string | null;
}

export interface EvidenceDownload {
  at: string;
  file: string;
  ip: string;
  userAgent: string | null;
  method: string;
  status: number;
  bytes: number;
  counted: boolean;
}

/** One activation of one of the charge's license keys. */
export interface EvidenceActivation {
  at: string;
  product: string;
  ip: string;
  instance: string;
  deactivatedAt: string | null;
}

export interface Evidence {
  charge: string;
  amount: number;
  currency: string;
  email: string | null;
  product: string | null;
  /** The first delivery: when the buyer had what they paid for. */
  serviceDate: string | null;
  emails: EvidenceEmail[];
  downloads: EvidenceDownload[];
  /** Every activation of the charge's license keys, oldest first. */
  activations: EvidenceActivation[];
  afterDelivery: { event: string; at: string; downloads: number }[];
  /** Why lastStatus is null, when it is. */
  statusNote?: string;
  /** Every event Resend reported for the charge's emails (webhook or polled), oldest first. */
  emailEvents?: { at: string; type: string; emailId: string; detail: string | null }[];
}

export async function gatherEvidence(ledger: Ledger, chargeId: string, resendKey: string | undefined): Promise<Evidence> {
  const row = await ledger.getCharge(chargeId);
  if (!row) throw new UsageError(`no charge ${chargeId} in the ledger`, "`paidup status` and `paidup show` list what the ledger knows");
  const firstTo = row.payload ? (JSON.parse(row.payload) as StoredPayload).to : row.email;
  const emails: EvidenceEmail[] = (await ledger.attempts(chargeId))
    .filter((a) => (a.outcome === "delivered" || a.outcome === "resent") && a.email_id)
    .map((a) => ({
      kind: a.outcome === "delivered" ? ("delivery" as const) : ("resend" as const),
      emailId: a.email_id as string,
      at: isoMs(a.at),
      to: a.outcome === "delivered" ? firstTo : (/ to (\S+)$/.exec(a.note ?? "")?.[1] ?? null),
      lastStatus: null,
    }));
  const evidence: Evidence = {
    charge: row.id, amount: row.amount, currency: row.currency, email: row.email, product: row.product,
    serviceDate: emails[0]?.at ?? null,
    emails,
    downloads: (await tableOrEmpty(() => ledger.downloadRequests(chargeId))).map((d) => ({
      at: isoMs(d.at), file: d.file_name, ip: d.ip, userAgent: d.user_agent, method: d.method, status: d.status, bytes: d.bytes, counted: d.counted === 1,
    })),
    activations: (await tableOrEmpty(() => ledger.licenseInstancesOfCharge(chargeId))).map((i) => ({
      at: isoMs(i.created_at), product: i.product, ip: i.ip, instance: i.name, deactivatedAt: i.deactivated_at === null ? null : isoMs(i.deactivated_at),
    })),
    afterDelivery: (await tableOrEmpty(() => ledger.afterDeliveryOf(chargeId))).map((a) => ({ event: a.event, at: isoMs(a.at), downloads: a.downloads })),
  };
  // Resend's webhooks (or a pass's polling) may already have said how each email ended.
  const recorded = await tableOrEmpty(() => ledger.emailEventsOf(chargeId));
  for (const e of evidence.emails) {
    const last = recorded.filter((r) => r.email_id === e.emailId).at(-1);
    if (last) e.lastStatus = last.type.replace(/^email\./, "");
  }
  evidence.emailEvents = recorded.map((r) => ({ at: isoMs(r.at), type: r.type, emailId: r.email_id, detail: r.detail }));
  evidence.statusNote = await addResendStatus(evidence.emails.filter((e) => e.lastStatus === null), resendKey);
  if (evidence.statusNote === undefined) delete evidence.statusNote;
  return evidence;
}

/** A ledger opened read-only before its download tables were added has none: nothing to show. */
async function tableOrEmpty<T>(read: () => Promise<T[]>): Promise<T[]> {
  try {
    return await read();
  } catch (err) {
    if (/no such table|does not exist/.test(String(err))) return [];
    throw err;
  }
}

/** Asks Resend for each email's last event; a sending-only key cannot read emails. */
async function addResendStatus(emails: EvidenceEmail[], key: string | undefined): Promise<string | undefined> {
  if (emails.length === 0) return undefined;
  if (!key) return "RESEND_API_KEY not set: Resend's status of the emails was not asked";
  const resend = new Resend(key);
  for (const e of emails) {
    const { data, error } = await resend.emails.get(e.emailId).catch((err: unknown) => ({ data: null, error: { name: "application_error", message: String(err) } }));
    if (data) {
      e.lastStatus = data.last_event;
      continue;
    }
    if (error?.name === "restricted_api_key") return "RESEND_API_KEY is a sending-only key: Resend's status of the emails needs a full-access key";
    return `Resend's status of the emails could not be read: ${redact(error?.message ?? "no answer")}`;
  }
  return undefined;
}

/** The text for Stripe's `access_activity_log`: one line per request, oldest first. */
export function accessLog(e: Evidence): string {
  const lines = e.downloads.map((d) => `${d.at}  ${d.method} ${d.file}  HTTP ${d.status}  ${d.bytes} bytes  IP ${d.ip}  ${d.userAgent ?? "(no user agent)"}`);
  const mails = e.emails.map((m) => `${m.at}  email ${m.emailId} accepted by Resend for ${m.to ?? "?"}${m.lastStatus ? ` (last status: ${m.lastStatus})` : ""}`);
  const activations = e.activations.map((a) => `${a.at}  license key of ${a.product} activated on "${a.instance}"  IP ${a.ip}`);
  // Stripe caps a text field at 20,000 characters: keep the start, which has the first downloads.
  return [...mails, ...activations, ...lines].join("\n").slice(0, 20_000);
}

export function disputeEvidenceOf(e: Evidence): Stripe.DisputeUpdateParams.Evidence {
  const product = e.product ?? "the purchased product";
  const first = e.emails[0];
  return {
    access_activity_log: accessLog(e),
    customer_email_address: e.email ?? undefined,
    service_date: e.serviceDate?.slice(0, 10),
    product_description: `Digital product "${product}" (${formatAmount(e.amount, e.currency)}), delivered by email${first ? ` on ${first.at} (Resend email id ${first.emailId})` : ""} with personal download links; ${e.downloads.filter((d) => d.counted).length} download(s) recorded.`,
  };
}

/** `--attach`: the evidence saved as a draft on the charge's open dispute. */
export async function attachEvidence(stripe: StripeSource, e: Evidence): Promise<string> {
  const disputes = await stripe.disputesOf(e.charge);
  const open = disputes.find((d) => d.status === "needs_response" || d.status === "warning_needs_response");
  if (!open) {
    throw new UsageError(`${e.charge} has no dispute waiting for evidence${disputes[0] ? ` (latest: ${disputes[0].id}, ${disputes[0].status})` : ""}`, "nothing was written to Stripe");
  }
  await stripe.saveDisputeEvidence(open.id, disputeEvidenceOf(e));
  return open.id;
}
