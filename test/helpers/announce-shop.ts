import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import type { SentEmail } from "../fakes/fake-resend";
import { paidCharge, Shop } from "./shop";

// A shop whose past buyers get an announcement: charges delivered through the real CLI, the
// announcement's text written beside the config, and what the fake Resend's batches carried.

export const PUBLIC_URL = "https://shop.example.com";

export function writeAnnouncement(shop: Shop, name: string, text: string, html?: string): { text: string; html?: string } {
  const dir = path.join(shop.dir, "announce");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.txt`), text);
  if (html !== undefined) fs.writeFileSync(path.join(dir, `${name}.html`), html);
  return { text: path.join(dir, `${name}.txt`), ...(html !== undefined ? { html: path.join(dir, `${name}.html`) } : {}) };
}

/** Buys ship-fast once per address (oldest first) and delivers them all with one pass. */
export async function deliverTo(shop: Shop, buyers: readonly { email: string; name?: string }[]): Promise<string[]> {
  const base = Math.floor(Date.now() / 1000) - 600;
  const ids = buyers.map((b, i) =>
    shop.stripe.addCharge(paidCharge({ created: base + i, billing_details: { email: b.email, name: b.name ?? null } })).id,
  );
  const r = await shop.run(["reconcile", "--since", "1h"]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return ids;
}

/** The announcement emails (sent through /emails/batch) to each address, lower-cased. */
export function announcementsByAddress(shop: Shop): Map<string, SentEmail[]> {
  const out = new Map<string, SentEmail[]>();
  for (const e of shop.resend.sent) {
    if (e.batchKey === undefined) continue;
    const to = String(e.to[0]).toLowerCase();
    out.set(to, [...(out.get(to) ?? []), e]);
  }
  return out;
}

export function headersOf(e: SentEmail): Record<string, string> {
  return (e.payload.headers ?? {}) as Record<string, string>;
}
