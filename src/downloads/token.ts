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

function mac(key: string, body: string): Buffer {
  return crypto.createHmac("sha256", Buffer.from(key, "base64url")).update(body).digest().subarray(0, MAC_BYTES);
}

/** `<base64url(name)>.<base64url(mac)>`: URL-safe, no padding, no `/`. */
export function signLink(key: string, name: LinkName): string {
  for (const part of [name.charge, name.product]) {
    if (part.includes(SEP)) throw new Error(`a link name may not contain "${SEP}": ${part}`);
  }
  const body = Buffer.from([name.charge, name.product, name.file, name.issue].join(SEP)).toString("base64url");
  return `${body}.${mac(key, body).toString("base64url")}`;
}

/** The name a token carries, or null for anything not signed with `key` (altered, truncated, made up). */
export function verifyLink(key: string, token: string): LinkName | null {
  if (token.length > 512) return null;
  const dot = token.indexOf(".");
  if (dot <= 0 || dot !== token.lastIndexOf(".")) return null;
  const body = token.slice(0, dot);
  const macText = token.slice(dot + 1);
  const given = Buffer.from(macText, "base64url");
  // Comparing in constant time: a timing side channel must not let anyone build a MAC byte by byte.
  if (given.length !== MAC_BYTES || !crypto.timingSafeEqual(given, mac(key, body))) return null;
  // The decoder ignores a last character's spare bits: without this, two spellings of one MAC pass.
  if (given.toString("base64url") !== macText) return null;
  // base64url decoding is lenient: insist the body re-encodes to itself, so one name has one token.
  const parts = Buffer.from(body, "base64url").toString("utf8");
  if (Buffer.from(parts).toString("base64url") !== body) return null;
  const [charge, product, file, issue, ...rest] = parts.split(SEP);
  if (!charge || !product || file === undefined || issue === undefined || rest.length > 0) return null;
  if (!/^\d{1,4}$/.test(file) || !/^\d{1,6}$/.test(issue)) return null;
  return { charge, product, file: Number(file), issue: Number(issue) };
}
