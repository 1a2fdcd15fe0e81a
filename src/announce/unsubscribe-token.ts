import { signText, verifyText } from "../downloads/token";

// An unsubscribe link's token names one address and carries an HMAC over it, made with the
// ledger's link key (every host of a shared ledger signs and checks alike) under its own
// label, so a download token can never pass for an unsubscribe token or the reverse. An
// altered or made-up token fails the MAC and answers 404.

const LABEL = "paidup unsubscribe v1\n";
export const UNSUBSCRIBE_PATH = "/unsubscribe/";

/** The token for the lower-cased address. */
export function signUnsubscribe(key: string, email: string): string {
  return signText(key, email.toLowerCase(), LABEL);
}

/** The address a token names, or null for anything not signed with `key`. */
export function verifyUnsubscribe(key: string, token: string): string | null {
  const email = verifyText(key, token, 1024, LABEL);
  return email !== null && email.includes("@") ? email : null;
}

export function unsubscribeUrl(publicUrl: string, key: string, email: string): string {
  return `${publicUrl}${UNSUBSCRIBE_PATH}${signUnsubscribe(key, email)}`;
}
