import fs from "node:fs";
import path from "node:path";
import { Resend } from "resend";
import { takeAudience } from "../announce/audience";
import type { AnnouncementJob } from "../announce/batches";
import { announcementId } from "../announce/identity";
import { AnnouncementSummary, sendAnnouncement, startAnnouncement, summarize } from "../announce/run";
import { checkTemplates, renderAnnouncement, usesDownloads } from "../announce/templates";
import { unsubscribeUrl } from "../announce/unsubscribe-token";
import { systemClock } from "../clock";
import { loadConfig, loadEnv, requireResendKey } from "../config";
import { BatchMailer } from "../delivery/batch-mailer";
import { Mailer } from "../delivery/mailer";
import { formatExpiry } from "../downloads/links";
import { EXIT, ExitCode, UsageError } from "../errors";
import { Ledger, openLedger } from "../ledger";
import { log } from "../log";
import { processOwner } from "./context";
import { countProgress } from "./progress";

// `paidup announce <product> --subject … --text <file> [--html <file>] [--dry-run] [--json]`:
// parse, check everything that can be checked before the ledger (exit 2 for any mistake, with
// nothing written), then start or resume the announcement and print its counts.

export interface AnnounceFlags {
  subject: string;
  text: string;
  html?: string;
  dryRun?: boolean;
  json?: boolean;
}

function readBody(file: string, flag: string): Buffer {
  const full = path.resolve(file);
  try {
    const st = fs.statSync(full);
    if (!st.isFile()) throw new UsageError(`${flag} ${file} is not a file`);
    return fs.readFileSync(full);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`${flag} ${file} cannot be read (${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : ((err as NodeJS.ErrnoException).code ?? "error")})`);
  }
}

export async function announceCommand(productKey: string, flags: AnnounceFlags, signal?: AbortSignal): Promise<ExitCode> {
  const env = loadEnv();
  const config = loadConfig(env.configPath);
  const product = config.products.find((p) => p.key === productKey);
  if (!product) throw new UsageError(`no product "${productKey}" in ${env.configPath}`, `products: ${config.products.map((p) => p.key).join(", ")}`);
  if (!config.publicUrl) {
    throw new UsageError(`announcements need publicUrl in ${env.configPath}`, "every announcement carries a one-click unsubscribe link to `paidup serve` (RFC 8058): set publicUrl to where serve is reachable");
  }
  const text = readBody(flags.text, "--text");
  const html = flags.html === undefined ? null : readBody(flags.html, "--html");
  const templates = { subject: flags.subject, text: text.toString("utf8"), html: html?.toString("utf8") ?? null };
  checkTemplates(templates, { text: flags.text, html: flags.html }, product.downloads !== undefined);
  const job: AnnouncementJob = {
    id: announcementId({ product: product.key, subject: flags.subject, text, html }),
    product, templates, withDownloads: product.downloads !== undefined && usesDownloads(templates),
    publicUrl: config.publicUrl, from: config.from, replyTo: config.replyTo,
  };
  const resendKey = flags.dryRun ? undefined : requireResendKey(env);
  const ledger = await openLedger(env, { readonly: flags.dryRun });
  try {
    if (flags.dryRun) return await dryRun(ledger, job, flags);
    const clock = systemClock;
    const mailer = Mailer.create(resendKey as string, clock, config.resend.maxPerSecond);
    const batches = new BatchMailer(new Resend(resendKey), mailer.pacer, clock);
    const started = await startAnnouncement(ledger, job, clock.now());
    const before = await summarize(ledger, job.id, 0);
    const progress = countProgress(!flags.json, before.recipients, before.alreadySent + before.unknown, "emailed");
    let summary: AnnouncementSummary;
    try {
      summary = await sendAnnouncement({ ledger, mailer: batches, clock, log, owner: processOwner(), signal }, job, progress.add);
    } finally {
      progress.stop();
    }
    print(summary, flags, started ? "started" : "resumed");
    if (summary.failed > 0) {
      process.stderr.write(`paidup: ${summary.failed} recipient(s) not emailed because sends failed\n  hint: run the same command again: it emails only those not yet emailed\n`);
    }
    if (summary.unknown > 0) {
      process.stderr.write(`paidup: ${summary.unknown} recipient(s) unknown: a send may have gone out and Resend's 24 h idempotency window has passed, so they are not emailed again\n`);
    }
    return summary.failed > 0 || summary.unknown > 0 ? EXIT.attention : EXIT.ok;
  } finally {
    await ledger.close();
  }
}

async function dryRun(ledger: Ledger, job: AnnouncementJob, flags: AnnounceFlags): Promise<ExitCode> {
  const existing = await ledger.getAnnouncement(job.id);
  let summary: AnnouncementSummary;
  let sampleTo: { email: string; name: string | null } | undefined;
  if (existing) {
    summary = { ...(await summarize(ledger, job.id, 0)), failed: 0 };
    sampleTo = (await ledger.pendingRecipients(job.id, 1))[0];
  } else {
    const audience = await takeAudience(ledger, job.product.key);
    summary = { announcement: job.id, product: job.product.key, recipients: audience.recipients.length, sent: 0, alreadySent: 0, failed: 0, unknown: 0, excluded: audience.excluded };
    sampleTo = audience.recipients[0];
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ...summary, dryRun: true }, null, 2) + "\n");
    return EXIT.ok;
  }
  const left = existing ? summary.recipients - summary.alreadySent - summary.unknown : summary.recipients;
  const lines = [
    `dry run (nothing sent, nothing written): would ${existing ? "resume" : "start"} announcement ${job.id} of ${job.product.key}: ${summary.recipients} recipient(s)${existing ? `, ${left} not yet emailed` : ""}; ${leftOut(summary)}`,
  ];
  if (sampleTo) {
    // The real links are made when the batch is recorded; the sample shows where they go.
    const key = (await ledger.peekLinkKey()) ?? "c2FtcGxl";
    const downloads = job.withDownloads && job.product.downloads
      ? job.product.downloads.files.map((f) => ({ name: path.basename(f), url: `${job.publicUrl}/d/<a fresh link, made when sent>`, expires: formatExpiry(Date.now() + (job.product.downloads?.expiresAfterMs ?? 0)) }))
      : undefined;
    const r = renderAnnouncement(job.templates, { name: sampleTo.name ?? "", email: sampleTo.email, product: job.product.name, unsubscribe: unsubscribeUrl(job.publicUrl, key, sampleTo.email), downloads });
    lines.push(`sample, to ${sampleTo.email}:`, `  Subject: ${r.subject}`, ...r.text.trimEnd().split("\n").map((l) => `  ${l}`));
  }
  process.stdout.write(lines.join("\n") + "\n");
  return EXIT.ok;
}

function leftOut(s: AnnouncementSummary): string {
  return `left out: ${s.excluded.unsubscribed} unsubscribed, ${s.excluded.bounced} bounced, ${s.excluded.refunded} refunded`;
}

function print(s: AnnouncementSummary, flags: AnnounceFlags, how: "started" | "resumed"): void {
  if (flags.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + "\n");
    return;
  }
  process.stdout.write(
    `announcement ${s.announcement} of ${s.product} (${how}): ${s.recipients} recipient(s): sent ${s.sent}, already sent ${s.alreadySent}, failed ${s.failed}, unknown ${s.unknown}; ${leftOut(s)}\n`,
  );
}
