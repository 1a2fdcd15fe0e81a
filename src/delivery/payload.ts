import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Product } from "../config";
import type { RenderedEmail } from "./templates";

/** Resend's limit for one email, attachments included after base64. */
export const MAX_EMAIL_BYTES = 40 * 1000 * 1000;

export interface StoredAttachment {
  filename: string;
  path: string;
  size: number;
  sha256: string;
}

/** What the ledger keeps of a send: enough to repeat it byte for byte. */
export interface StoredPayload {
  from: string;
  to: string;
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  attachments: StoredAttachment[];
}

export interface SendablePayload extends Omit<StoredPayload, "attachments"> {
  attachments?: { filename: string; content: Buffer }[];
}

/** The problem of a product file whose bytes differ from what an earlier send of the charge carried. */
export const CHANGED_FILE = "changed since the first send of this charge";

/** A product file that is missing, unreadable, too large, or changed since the first send. */
export class ProductFileError extends Error {
  constructor(readonly file: string, readonly problem: string) {
    super(`product file ${file} ${problem}`);
  }
}

function base64Size(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

interface ReadFile {
  bytes: Buffer;
  sha256: string;
  /** What the bytes were read under: a file changed since reads again. */
  stamp: string;
}

/**
 * Product files read once and hashed once per process, not twice per charge (once to store the
 * payload, once to send it): a launch-day pass sends the same zip hundreds of times. The stat on
 * every use re-reads a file replaced or edited since (size, mtime, ctime and inode all move).
 */
const files = new Map<string, ReadFile>();

function readFile(file: string): ReadFile {
  try {
    const st = fs.statSync(file);
    const stamp = `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
    const known = files.get(file);
    if (known?.stamp === stamp) return known;
    const bytes = fs.readFileSync(file);
    const read = { bytes, sha256: sha256(bytes), stamp };
    files.set(file, read);
    return read;
  } catch (err) {
    files.delete(file);
    const code = (err as NodeJS.ErrnoException).code;
    throw new ProductFileError(file, code === "ENOENT" ? "is missing" : `cannot be read (${code ?? "error"})`);
  }
}

/**
 * Presence, kind and size, without reading the bytes: what `check` and a pass test first. A
 * folder or an empty file would otherwise reach the buyer as a broken attachment (or none).
 */
export function checkAttachments(files: readonly string[]): void {
  let total = 0;
  for (const file of files) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new ProductFileError(file, "is missing");
    }
    if (stat.isDirectory()) throw new ProductFileError(file, "is a folder, not a file (attach a zip of it)");
    if (!stat.isFile()) throw new ProductFileError(file, "is not a regular file");
    if (stat.size === 0) throw new ProductFileError(file, "is empty (0 bytes)");
    const size = stat.size;
    total += base64Size(size);
    if (total > MAX_EMAIL_BYTES) throw new ProductFileError(file, `makes the email larger than Resend's 40 MB limit (${size} bytes)`);
  }
}

export function buildPayload(product: Product, rendered: RenderedEmail, to: string, from: string, replyTo: string | undefined): StoredPayload {
  checkAttachments(product.attachments);
  const attachments = product.attachments.map((file) => {
    const { bytes, sha256 } = readFile(file);
    return { filename: path.basename(file), path: file, size: bytes.length, sha256 };
  });
  return { from, to, replyTo, subject: rendered.subject, text: rendered.text, html: rendered.html, attachments };
}

/** Reads the files back and proves they are the bytes the first send carried. */
export function toSendable(stored: StoredPayload): SendablePayload {
  const attachments = stored.attachments.map((a) => {
    const read = readFile(a.path);
    if (read.sha256 !== a.sha256) throw new ProductFileError(a.path, CHANGED_FILE);
    return { filename: a.filename, content: read.bytes };
  });
  const { attachments: _ignored, ...rest } = stored;
  return attachments.length > 0 ? { ...rest, attachments } : rest;
}

function sha256(bytes: Buffer): string {
  return crypto.createHash("sha256").update(bytes).digest("hex");
}
