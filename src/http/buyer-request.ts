import crypto from "node:crypto";
import { isEmailAddress } from "../address";
import type { Downloads } from "../config";
import { shopNameFrom } from "../downloads/buyers-page";
import { downloadVars } from "../downloads/links";
import type { PassDeps } from "../pass/pass-deps";

// What a POST to the buyers' page does, after the page has been answered: if the address has
// delivered purchases with downloads, one email with fresh links for all of them, at most once
// per 15 minutes per address (kept in the ledger, so a restart or a second host does not reset it).

export const BUYER_WINDOW_MS = 15 * 60_000;

export type BuyerOutcome = "not_an_address" | "too_soon" | "nothing_to_send" | "sent" | "send_failed";

export async function handleBuyerRequest(deps: PassDeps, rawEmail: string): Promise<BuyerOutcome> {
  const { config, clock, mailer } = deps;
  const email = rawEmail.trim().toLowerCase();
  if (!isEmailAddress(email) || !config.publicUrl || !mailer) return "not_an_address";
  const { ledger } = deps;
  const now = clock.now();
  // Looked up before anything is written: an address with nothing to send (a stranger, a
  // flood of made-up addresses) leaves no row behind.
  const wanted: { charge: string; key: string; name: string; downloads: Downloads }[] = [];
  for (const charge of await ledger.deliveredChargesOf(email)) {
    if (await ledger.isRevoked(charge.id)) continue;
    for (const key of (charge.product ?? "").split(",").filter(Boolean)) {
      const product = config.products.find((p) => p.key === key);
      if (product?.downloads) wanted.push({ charge: charge.id, key, name: product.name, downloads: product.downloads });
    }
  }
  if (wanted.length === 0) return "nothing_to_send";
  if (!(await ledger.takeBuyerRequest(email, now, BUYER_WINDOW_MS))) return "too_soon";

  const sections: { product: string; files: { name: string; url: string; expires: string }[] }[] = [];
  for (const w of wanted) {
    const files = await downloadVars(ledger, { publicUrl: config.publicUrl, charge: w.charge, product: w.key, downloads: w.downloads, source: `page:${now}` }, now);
    sections.push({ product: w.name, files });
  }

  const shop = shopNameFrom(config.from);
  const text = [
    `Here are fresh download links for your purchases from ${shop}.`,
    "",
    ...sections.flatMap((s) => [s.product, ...s.files.map((f) => `  ${f.name}: ${f.url}  (works until ${f.expires})`), ""]),
    `Links stop working after the date shown; you can ask for new ones at ${config.publicUrl}/downloads`,
  ].join("\n");
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] as string);
  const html = [
    `<p>Here are fresh download links for your purchases from ${esc(shop)}.</p>`,
    ...sections.map((s) => `<h3>${esc(s.product)}</h3><ul>${s.files.map((f) => `<li><a href="${esc(f.url)}">${esc(f.name)}</a> (works until ${esc(f.expires)})</li>`).join("")}</ul>`),
    `<p>Links stop working after the date shown; you can ask for new ones at <a href="${esc(config.publicUrl)}/downloads">${esc(config.publicUrl)}/downloads</a>.</p>`,
  ].join("\n");
  // One key per address and request: a retry of this very send is recognised, a later request is new.
  const key = `paidup-page-${crypto.createHash("sha256").update(email).digest("hex").slice(0, 24)}-${now}`;
  await mailer.waitTurn();
  const result = await mailer.send({ from: config.from, to: email, replyTo: config.replyTo, subject: `Your downloads from ${shop}`, text, html }, key);
  if (!result.ok) {
    deps.log.warn("buyers' page email failed", { error: result.reason });
    return "send_failed";
  }
  // The fresh links start their own expiry from this acceptance.
  const accepted = clock.now();
  for (const w of wanted) await ledger.acceptLinks(w.charge, w.key, `page:${now}`, accepted);
  deps.log.info("buyers' page email sent", { emailId: result.emailId, purchases: sections.length });
  return "sent";
}
