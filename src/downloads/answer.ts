import { pipeline, type Readable } from "node:stream";
import type { Ledger, LinkId } from "../ledger";
import { byteCounter, DownloadFileError, openDownload } from "./file-stream";
import { verifyLink } from "./token";

// What GET or HEAD /d/<token> answers, independent of the HTTP framework. The order is the
// contract's: unknown or altered → 404; expired or revoked → 410 (even when used up); used up
// (its downloads, or its byte budget) → 429, ranges included; then the file. A download is
// counted when a GET serves the file from its first byte; every GET's bytes count.

export interface DownloadRequestInfo {
  method: "GET" | "HEAD";
  token: string;
  range?: string;
  ifRange?: string;
  ip: string;
  userAgent?: string;
}

export interface DownloadAnswer {
  status: number;
  headers: Record<string, string>;
  /** The bytes to send (already counting); null for an answer without a body. */
  body: Readable | null;
  /** A short reason for answers without a file (404, 410, 429, 500). */
  error?: string;
}

export interface DownloadDeps {
  ledger: Ledger;
  now: () => number;
  /** Reports a request that failed on the server's side (file gone): the operator must know. */
  onFileError: (err: Error) => void;
}

const NO_STORE = { "cache-control": "no-store" };

export async function answerDownload(deps: DownloadDeps, req: DownloadRequestInfo): Promise<DownloadAnswer> {
  const { ledger } = deps;
  const name = verifyLink(await ledger.linkKey(), req.token);
  const link = name ? await ledger.getLink(name) : undefined;
  if (!name || !link) return { status: 404, headers: NO_STORE, body: null, error: "unknown link" };
  const id: LinkId = name;
  const at = deps.now();
  const log = (status: number, bytes: number, counted: boolean) =>
    ledger.logDownloadRequest({ link: id, at, ip: req.ip, userAgent: req.userAgent ?? null, method: req.method, range: req.range ?? null, status, bytes, counted });

  if (at >= link.expires_at || (await ledger.isRevoked(id.charge))) {
    await log(410, 0, false);
    const why = at >= link.expires_at ? "this link has expired" : "this link no longer works";
    return { status: 410, headers: NO_STORE, body: null, error: why };
  }
  const usedUp = { status: 429, headers: NO_STORE, body: null, error: "this link has been used as many times as it allows" };
  // Used up: every GET and HEAD is refused, ranges included, whatever the file is doing.
  if (link.downloads >= link.max_downloads) {
    await log(429, 0, false);
    return usedUp;
  }
  let file;
  try {
    file = await openDownload(link.file_path, link.file_name, { method: req.method, range: req.range, ifRange: req.ifRange });
  } catch (err) {
    if (!(err instanceof DownloadFileError)) throw err;
    deps.onFileError(err);
    await log(500, 0, false);
    return { status: 500, headers: NO_STORE, body: null, error: "the file is not available right now" };
  }
  // The byte budget: (maxDownloads + 1) files in all, so a resumed download fits and a link
  // fetched range by range forever does not.
  const budget = (link.max_downloads + 1) * file.size;
  if (file.size > 0 && link.bytes_served >= budget) {
    file.body?.destroy();
    await log(429, 0, false);
    return usedUp;
  }
  const fromFirstByte = file.status !== 416 && file.start === 0;
  const counted = req.method === "GET" && fromFirstByte;
  // Reserved before a byte goes out, in one UPDATE that refuses what does not fit.
  if (req.method === "GET" && file.status !== 416 && !(await ledger.takeLinkBytes(id, { bytes: file.length, size: file.size, download: counted }))) {
    file.body?.destroy();
    await log(429, 0, false);
    return usedUp;
  }
  if (!file.body) {
    await log(file.status, 0, counted);
    return { status: file.status, headers: file.headers, body: null };
  }
  // Logged once the bytes are out (or the client hung up), with how many went; what was
  // reserved and not sent goes back to the budget.
  const reserved = file.length;
  const counter = byteCounter((bytes) => {
    ledger
      .logDownloadRequest({ link: id, at, ip: req.ip, userAgent: req.userAgent ?? null, method: req.method, range: req.range ?? null, status: file.status, bytes, counted }, Math.max(0, reserved - bytes))
      .catch((err: unknown) => deps.onFileError(err as Error));
  });
  // pipeline, not pipe: a client hanging up tears down the file stream too (no leaked descriptor).
  pipeline(file.body, counter, () => undefined);
  return { status: file.status, headers: file.headers, body: counter };
}
