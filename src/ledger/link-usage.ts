import type { DownloadRequest, LinkId } from "./links";
import type { Sql } from "./sql";

// What requests take from a download link: its downloads and its byte budget, taken before a
// byte is streamed, and the log of its requests for `evidence`, kept to the last 1,000.

/** Requests kept in the log per link; older ones are deleted by the write that logs a newer one. */
export const DOWNLOAD_LOG_KEEP = 1000;

const LINK = "charge_id = ? AND product = ? AND file_index = ? AND issue = ?";
const linkParams = (id: LinkId) => [id.charge, id.product, id.file, id.issue];

export interface BytesWanted {
  /** Bytes this answer will carry (a range's length, the whole file, 0 for an empty one). */
  bytes: number;
  /** The file's size now: the budget is (max_downloads + 1) × size. */
  size: number;
  /** A GET from the first byte: it uses up one download too. */
  download: boolean;
}

/**
 * Reserves an answer's bytes (and its download) from the link's allowance, or refuses: false
 * once its downloads are used up or the bytes would pass its budget. One UPDATE with the check
 * in its WHERE, so two requests at once cannot both take the last of either.
 */
export async function takeLinkBytes(db: Sql, id: LinkId, want: BytesWanted): Promise<boolean> {
  const changed = await db.exec(
    `UPDATE download_links SET bytes_served = bytes_served + ?, downloads = downloads + ?
     WHERE ${LINK} AND downloads < max_downloads AND bytes_served + ? <= (max_downloads + 1) * CAST(? AS BIGINT)`,
    [want.bytes, want.download ? 1 : 0, ...linkParams(id), want.bytes, want.size],
  );
  // (The CAST: PostgreSQL would type the size as max_downloads' INTEGER, and a 2 GB file × 6 overflows it.)
  return changed === 1;
}

/**
 * Logs one request through a link and, in the same transaction, deletes the one 1,000 requests
 * before it: the log of a link hammered for a year stays 1,000 rows. `unsent` gives back bytes
 * reserved for an answer the client hung up on, so a resumed download is not charged twice.
 */
export async function logDownloadRequest(db: Sql, r: DownloadRequest, unsent = 0): Promise<void> {
  await db.transaction(async (tx) => {
    // The link's row is the counter: updating it first also makes concurrent logs of one link take turns.
    await tx.exec(`UPDATE download_links SET requests_logged = requests_logged + 1, bytes_served = bytes_served - ? WHERE ${LINK}`, [unsent, ...linkParams(r.link)]);
    const row = await tx.one<{ n: number | string }>(`SELECT requests_logged AS n FROM download_links WHERE ${LINK}`, linkParams(r.link));
    const seq = Number(row?.n ?? 0);
    await tx.exec(
      `INSERT INTO download_requests (charge_id, product, file_index, issue, at, ip, user_agent, method, range_header, status, bytes, counted, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [...linkParams(r.link), r.at, r.ip, r.userAgent, r.method, r.range, r.status, r.bytes, r.counted ? 1 : 0, seq],
    );
    await tx.exec(`DELETE FROM download_requests WHERE ${LINK} AND seq <= ?`, [...linkParams(r.link), seq - DOWNLOAD_LOG_KEEP]);
  });
}
