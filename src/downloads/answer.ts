import { pipeline, type Readable } from "node:stream";
import type { Ledger, LinkId } from "../ledger";
import { byteCounter, DownloadFileError, openDownload } from "./file-stream";
import { verifyLink } from "./token";

// What GET or HEAD /d/<token> answers, independent of the HTTP framework. The order is the
// contract's: unknown or altered → 404; expired or revoked → 410 (even when used up); used up
// → 429; then the file. A download is counted when a GET serves the file from its first byte.

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
  let file;
  try {
    file = await openDownload(link.file_path, link.file_name, { method: req.method, range: req.range, ifRange: req.ifRange });
  } catch (err) {
    if (!(err instanceof DownloadFileError)) throw err;
    deps.onFileError(err);
    await log(500, 0, false);
    return { status: 500, headers: NO_STORE, body: null, error: "the file is not available right now" };
  }
  const fromFirstByte = file.status !== 416 && file.start === 0;
  let counted = false;
  if (req.method === "GET" && fromFirstByte) {
    counted = await ledger.countDownload(id);
    if (!counted) {
      file.body?.destroy();
      await log(429, 0, false);
      return { status: 429, headers: NO_STORE, body: null, error: "this link has been used as many times as it allows" };
    }
  } else if (req.method === "HEAD" && link.downloads >= link.max_downloads) {
    await log(429, 0, false);
    return { status: 429, headers: NO_STORE, body: null, error: "this link has been used as many times as it allows" };
  }
  if (!file.body) {
    await log(file.status, 0, counted);
    return { status: file.status, headers: file.headers, body: null };
  }
  // Logged once the bytes are out (or the client hung up), with how many went.
  const counter = byteCounter((bytes) => {
    log(file.status, bytes, counted).catch((err: unknown) => deps.onFileError(err as Error));
  });
  // pipeline, not pipe: a client hanging up tears down the file stream too (no leaked descriptor).
  pipeline(file.body, counter, () => undefined);
  return { status: file.status, headers: file.headers, body: counter };
}
