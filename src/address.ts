// What paidup accepts as an email address where someone types one (the buyers' page, `lookup`):
// one @, no spaces or list separators, a dotted domain ending in letters. Stricter than RFC
// 5322 on purpose: it answers "did they paste an address", not "could this ever be delivered".

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;.]+(?:\.[^\s@<>",;.]+)*\.[A-Za-z]{2,}$/;

/** True for something shaped like an email address (at most 254 characters, RFC 5321). */
export function isEmailAddress(value: string): boolean {
  return value.length <= 254 && ADDRESS.test(value);
}
