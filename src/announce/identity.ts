import crypto from "node:crypto";

// An announcement is its product, subject and bodies (the files' bytes): the same command run
// again names the same announcement and resumes it; any change to the text is a new one.

export interface AnnouncementText {
  product: string;
  subject: string;
  text: Buffer;
  html: Buffer | null;
}

/** `ann_` + 20 hex digits of a SHA-256 over the parts, each length-prefixed so no two texts collide by shifting bytes. */
export function announcementId(a: AnnouncementText): string {
  const h = crypto.createHash("sha256");
  for (const part of [Buffer.from(a.product), Buffer.from(a.subject), a.text, a.html]) {
    if (part === null) {
      h.update("-");
      continue;
    }
    h.update(`${part.length}:`);
    h.update(part);
  }
  return `ann_${h.digest("hex").slice(0, 20)}`;
}

/** The Idempotency-Key of the announcement's n-th recorded batch. */
export function batchKey(id: string, n: number): string {
  return `paidup-${id}-b${n}`;
}
