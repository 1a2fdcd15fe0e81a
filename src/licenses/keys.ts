import crypto from "node:crypto";

// A key is 30 symbols of A-Z2-7 (150 random bits) in groups of five after an optional prefix:
// `COURSE-K7Q2M-…`, at most 16 + 1 + 35 = 52 characters. Only its SHA-256 is ever looked up,
// so a request's time does not depend on how much of a key it got right.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SYMBOLS = 30;
/** Longer than any key paidup makes; anything longer is not looked up at all. */
export const MAX_KEY_LENGTH = 64;

export function makeKey(prefix: string | null): string {
  // 256 is a multiple of 32: each byte's low five bits are uniform.
  const bytes = crypto.randomBytes(SYMBOLS);
  const symbols = [...bytes].map((b) => ALPHABET[b & 31] as string).join("");
  const groups = symbols.match(/.{5}/g) as string[];
  return [...(prefix ? [prefix] : []), ...groups].join("-");
}

/** What a buyer typed, as paidup stores keys: no surrounding spaces, upper case. */
export function normalizeKey(input: string): string {
  return input.trim().toUpperCase();
}

export function hashKey(key: string): string {
  return crypto.createHash("sha256").update(normalizeKey(key)).digest("hex");
}

/** The public id of a key: random, so it tells nothing about the key. */
export function newLicenseId(): string {
  return `lk_${crypto.randomBytes(12).toString("hex")}`;
}

export function newInstanceId(): string {
  return crypto.randomUUID();
}
