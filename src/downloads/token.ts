import crypto from "node:crypto";

// A download link's token names one issued link (charge, product, file, issue) and carries an
// HMAC over that name. The key is made once at `init` and kept in the ledger, so every host of a
// shared ledger signs and checks alike; a token edited by hand, or made up, fails the MAC and
// answers 404 without a ledger lookup for anything it claims.

/** The link a token names. `issue` counts the sends that rendered links for this purchase. */
export interface LinkName {
  charge: string;
  product: string;
  file: number;
  issue: number;
}

const MAC_BYTES = 16; // 128 bits: forging one is out of reach, and the URL stays short.
const SEP = "~";

/** A fresh signing key (base64url), made at `init`. */
export function newLinkKey(): string {
  return crypto.randomBytes(32).toString("base64url");
}

// The MAC covers `label + body`: each kind of token (download links none, unsubscribe links
// their own) has its label, so a token of one kind never passes for another.
function mac(key: string, body: string, label: string): Buffer {
  return crypto.createHmac("sha256", Buffer.from(key, "base64url")).update(label + body).digest().subarray(0, MAC_BYTES);
}

/** `<base64url(text)>.<base64url(mac)>`: URL-safe, no padding, no `/`. */
export function signText(key: string, text: string, label = ""): string {
  const body = Buffer.from(text).toString("base64url");
  return `${body}.${mac(key, body, label).toString("base64url")}`;
}

/** The text a token carries, or null for anything not signed with `key` under `label` (altered, truncated, made up). */
export function verifyText(key: string, token: string, maxLength: number, label = ""): string | null {
  if (token.length > maxLength) return null;
  const dot = token.indexOf(".");
  if (dot <= 0 || dot !== token.lastIndexOf(".")) return null;
  const body = token.slice(0, dot);
  const macText = token.slice(dot + 1);
  const given = Buffer.from(macText, "base64url");
  // Comparing in constant time: a timing side channel must not let anyone build a MAC byte by byte.
  if (given.length !== MAC_BYTES || !crypto.timingSafeEqual(given, mac(key, body, label))) return null;
  // The decoder ignores a last character's spare bits: without this, two spellings of one MAC pass.
  if (given.toString("base64url") !== macText) return null;
  // base64url decoding is lenient: insist the body re-encodes to itself, so one text has one token.
  const text = Buffer.from(body, "base64url").toString("utf8");
  if (Buffer.from(text).toString("base64url") !== body) return null;
  return text;
}

export function signLink(key: string, name: LinkName): string {
  for (const part of [name.charge, name.product]) {
    if (part.includes(SEP)) throw new Error(`a link name may not contain "${SEP}": ${part}`);
  }
  return signText(key, [name.charge, name.product, name.file, name.issue].join(SEP));
}

/** The name a token carries, or null for anything not signed with `key`. */
export function verifyLink(key: string, token: string): LinkName | null {
  const parts = verifyText(key, token, 512);
  if (parts === null) return null;
  const [charge, product, file, issue, ...rest] = parts.split(SEP);
  if (!charge || !product || file === undefined || issue === undefined || rest.length > 0) return null;
  if (!/^\d{1,4}$/.test(file) || !/^\d{1,6}$/.test(issue)) return null;
  return { charge, product, file: Number(file), issue: Number(issue) };
}
