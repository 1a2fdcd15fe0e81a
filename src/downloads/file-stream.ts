import fs from "node:fs";
import { Transform, type Readable } from "node:stream";
import { attachmentDisposition, contentRange, planRange } from "./range";

// A product file sent as a download: headers from one fstat, bytes streamed from one open file
// descriptor in 256 KiB chunks. A 2 GB file is never held in memory (bench/RESULTS.md: RSS stays
// flat), and the file is opened once, so a file replaced mid-download cannot mix two versions.

const CHUNK_BYTES = 256 * 1024;

export interface FileAnswer {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  /** The bytes to send; null for HEAD and 416. */
  body: Readable | null;
  /** The first byte served: a download counts only when it is 0. */
  start: number;
  /** Bytes this answer will carry (0 for HEAD and 416). */
  length: number;
  /** The file's size (the byte budget is counted in files). */
  size: number;
}

/** The link is fine but the file behind it is not: the operator's problem, answered 500 and logged. */
export class DownloadFileError extends Error {}

export interface FileRequest {
  method: "GET" | "HEAD";
  range?: string;
  ifRange?: string;
}

export async function openDownload(file: string, filename: string, req: FileRequest): Promise<FileAnswer> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, "r");
  } catch (err) {
    throw new DownloadFileError(`product file ${file} cannot be opened (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let stat: fs.Stats;
  try {
    stat = await handle.stat();
    if (!stat.isFile()) throw new DownloadFileError(`product file ${file} is not a regular file`);
  } catch (err) {
    await handle.close();
    throw err instanceof DownloadFileError ? err : new DownloadFileError(`product file ${file} cannot be read`);
  }
  const size = stat.size;
  const etag = `"${size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  // A resumed download of a file that changed since must start over, not splice two versions.
  const rangeApplies = req.ifRange === undefined || req.ifRange === etag || req.ifRange === stat.mtime.toUTCString();
  const plan = planRange(size, rangeApplies ? req.range : undefined);
  const headers: Record<string, string> = {
    "accept-ranges": "bytes",
    "content-disposition": attachmentDisposition(filename),
    "content-type": "application/octet-stream",
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
    etag,
    "last-modified": stat.mtime.toUTCString(),
  };
  if (plan.status === 416) {
    await handle.close();
    return { status: 416, headers: { ...headers, "content-range": contentRange(plan, size), "content-length": "0" }, body: null, start: 0, length: 0, size };
  }
  headers["content-length"] = String(plan.length);
  if (plan.status === 206) headers["content-range"] = contentRange(plan, size);
  if (req.method === "HEAD" || plan.length === 0) {
    await handle.close();
    return { status: plan.status, headers, body: null, start: plan.start, length: 0, size };
  }
  const body = handle.createReadStream({ start: plan.start, end: plan.end, highWaterMark: CHUNK_BYTES, autoClose: true });
  return { status: plan.status, headers, body, start: plan.start, length: plan.length, size };
}

/** Passes bytes through and reports how many went by once the stream ends or is torn down. */
export function byteCounter(onDone: (bytes: number) => void): Transform {
  let bytes = 0;
  let reported = false;
  const report = () => {
    if (!reported) onDone(bytes);
    reported = true;
  };
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  t.on("end", report);
  t.on("close", report);
  return t;
}
