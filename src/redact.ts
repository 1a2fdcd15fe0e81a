// Secrets must never reach logs, error messages or --json output. Stripe's own 401 message
// repeats the end of the key, so anything that came from an SDK passes through here.

const SECRET_PATTERNS = [
  /\b(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9*]+/g,
  /\bwhsec_[A-Za-z0-9+/=]+/g,
  /\bre_[A-Za-z0-9_]{6,}/g,
  /Bearer\s+[A-Za-z0-9_.*-]+/gi,
];

/** user:password@ in a URL (PAIDUP_DATABASE_URL): the password goes, the user stays. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi;

const knownSecrets = new Set<string>();

/** Registers a secret's exact value so that it is masked wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) knownSecrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.split(secret).join("[redacted]");
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, "[redacted]");
  out = out.replace(URL_PASSWORD, "$1:[redacted]@");
  return out;
}
