import { isoMs } from "../duration";
import { loadEnv } from "../env";
import { isEmailAddress } from "../address";
import { EXIT, ExitCode, UsageError } from "../errors";
import type { ChargeRow, Ledger } from "../ledger";
import { formatAmount } from "../delivery/templates";
import { openLookContext } from "./look-context";
import { ledgerEntry, ShowEntry } from "./show";
import { licenseKeyOf } from "../licenses/answers";
import { statusOf } from "../licenses/status";

// `paidup lookup <email>`: everything the ledger knows about one buyer, for the owner answering
// "I paid and got nothing". Read-only and from the ledger alone: Stripe is not asked, so the
// facts only Stripe holds are null.

/** A key as the license API shows it (`license_key`): id, status, key, activations, times. */
export type LookupLicense = ReturnType<typeof licenseKeyOf>;
export type LookupCharge = ShowEntry & { downloads: number; licenses: LookupLicense[] };

export interface LookupReport {
  email: string;
  unsubscribed: boolean;
  charges: LookupCharge[];
  announcements: { announcement: string; product: string; at: string; emailId: string }[];
}

const NOT_ASKED = "not asked: lookup reads the ledger alone";

export async function buyerReport(ledger: Ledger, email: string): Promise<LookupReport> {
  const charges: LookupCharge[] = [];
  for (const row of await ledger.chargesOfBuyer(email)) charges.push(await chargeOf(ledger, row));
  const announcements = (await ledger.announcementsOf(email)).map((a) => ({ announcement: a.announcement, product: a.product, at: isoMs(a.at), emailId: a.emailId }));
  return { email, unsubscribed: await ledger.isUnsubscribed(email), charges, announcements };
}

async function chargeOf(ledger: Ledger, row: ChargeRow): Promise<LookupCharge> {
  const { entry } = await ledgerEntry(ledger, row);
  const now = Date.now();
  const licenses = (await ledger.licensesOfCharge(row.id)).map((l) => licenseKeyOf(l, statusOf(l, now)));
  return { ...entry, stripe: null, stripeNote: NOT_ASKED, downloads: await ledger.downloadCount(row.id), licenses };
}

export async function lookupCommand(address: string, flags: { json?: boolean }): Promise<ExitCode> {
  const email = address.trim().toLowerCase();
  if (!isEmailAddress(email)) throw new UsageError(`"${address}" is not an email address`, "lookup takes the buyer's address, e.g. paidup lookup ada@example.com");
  const ctx = await openLookContext(loadEnv(), undefined);
  try {
    const report = await buyerReport(ctx.ledger, email);
    process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + "\n" : human(report));
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

/** Each email of a charge and the last thing Resend said about it. */
function emailLines(c: LookupCharge): string[] {
  const ids = new Map<string, string>();
  for (const p of c.products) if (p.emailId) ids.set(p.emailId, p.key);
  for (const a of c.attempts) if (a.emailId && !ids.has(a.emailId)) ids.set(a.emailId, a.note ?? a.outcome);
  return [...ids].map(([id, what]) => {
    const last = (c.emailEvents ?? []).filter((e) => e.emailId === id).at(-1);
    const status = last ? `${last.type.replace(/^email\./, "")} (${last.at})` : "accepted by Resend, nothing heard since";
    return `    email ${id}  ${what}: ${status}`;
  });
}

function human(r: LookupReport): string {
  const lines = [`buyer     ${r.email}${r.unsubscribed ? "  (unsubscribed from announcements)" : ""}`];
  if (r.charges.length === 0) lines.push("charges   none in the ledger for this address");
  else lines.push(`charges   ${r.charges.length}, newest first`);
  for (const c of r.charges) {
    lines.push(`  ${c.charge}  ${c.state}  ${formatAmount(c.amount, c.currency)}  ${c.product ?? "(no product)"}  ${c.created}${c.email && c.email.toLowerCase() !== r.email ? `  now sent to ${c.email}` : ""}`);
    if (c.reason) lines.push(`    why: ${c.reason}`);
    lines.push(...emailLines(c));
    if (c.downloads > 0) lines.push(`    downloads ${c.downloads}`);
    for (const l of c.licenses) lines.push(`    license ${l.key}${l.status === "active" || l.status === "inactive" ? "" : `  (${l.status})`}`);
    if (c.attempts.length > 0) lines.push(`    attempts ${c.attempts.length}: paidup show ${c.charge}`);
  }
  lines.push(`announcements  ${r.announcements.length === 0 ? "none sent" : r.announcements.length}`);
  for (const a of r.announcements) lines.push(`  ${a.at}  ${a.product}  ${a.announcement}  email ${a.emailId}`);
  return lines.join("\n") + "\n";
}
