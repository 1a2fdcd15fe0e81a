import crypto from "node:crypto";

// An unsubscribe link's token names one address and carries an HMAC over it, made with the
// ledger's link key (every host of a shared ledger signs and checks alike) under its own
// label, so a download token can never pass for an unsubscribe token or the reverse. An
// altered or made-up token fails the MAC and answers 404.

const MAC_BYTES = 16;
const LABEL = "paidup unsubscribe v1\n";
export const UNSUBSCRIBE_PATH = "/unsubscribe/";

function mac(key: string, body: string): Buffer {
  return crypto.createHmac("sha256", Buffer.from(key, "base64url")).update(LABEL + body).digest().subarray(0, MAC_BYTES);
}

/** `<base64url(address)>.<base64url(mac)>` for the lower-cased address. */
export function signUnsubscribe(key: string, email: string): string {
  const body = Buffer.from(email.toLowerCase()).toString("base64url");
  return `${body}.${mac(key, body).toString("base64url")}`;
}

/** The address a token names, or null for anything not signed with `key`. */
export function verifyUnsubscribe(key: string, token: string): string | null {
  if (token.length > 1024) return null;
  const dot = token.indexOf(".");
  if (dot <= 0 || dot !== token.lastIndexOf(".")) return null;
  const body = token.slice(0, dot);
  const macText = token.slice(dot + 1);
  const given = Buffer.from(macText, "base64url");
  if (given.length !== MAC_BYTES || !crypto.timingSafeEqual(given, mac(key, body))) return null;
  // One spelling per token: base64url decoding is lenient about spare bits and characters.
  if (given.toString("base64url") !== macText) return null;
  const email = Buffer.from(body, "base64url").toString("utf8");
  if (Buffer.from(email).toString("base64url") !== body || !email.includes("@")) return null;
  return email;
}

export function unsubscribeUrl(publicUrl: string, key: string, email: string): string {
  return `${publicUrl}${UNSUBSCRIBE_PATH}${signUnsubscribe(key, email)}`;
}
