import path from "node:path";
import type { Downloads } from "../config";
import type { Ledger } from "../ledger";
import { signLink } from "./token";

// The `downloads` placeholder of a product's email: one signed link per file, stored in the
// ledger before the email is rendered, so a repeat of that email carries the very same links.

export const LINK_PATH = "/d/";

/** "2026-12-01 10:00 UTC": the same string on every host and every re-render. */
export function formatExpiry(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export interface LinkRequest {
  publicUrl: string;
  charge: string;
  product: string;
  downloads: Downloads;
  /** "send" for the first email; "r<n>" for `paidup resend`; "page:<ms>" for the buyers' page. */
  source: string;
}

/** One entry of the `downloads` placeholder (the same shape as delivery's DownloadVar). */
export interface LinkVar {
  name: string;
  url: string;
  expires: string;
}

export async function downloadVars(ledger: Ledger, req: LinkRequest, now: number): Promise<LinkVar[]> {
  const key = await ledger.linkKey();
  const rows = await ledger.issueLinks({
    charge: req.charge,
    product: req.product,
    source: req.source,
    files: req.downloads.files.map((f) => ({ name: path.basename(f), path: f })),
    expiresAfterMs: req.downloads.expiresAfterMs,
    maxDownloads: req.downloads.maxDownloads,
  }, now);
  return rows.map((r) => ({
    name: r.file_name,
    url: `${req.publicUrl}${LINK_PATH}${signLink(key, { charge: r.charge_id, product: r.product, file: r.file_index, issue: r.issue })}`,
    expires: formatExpiry(r.expires_at),
  }));
}
