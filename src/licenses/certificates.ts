import type { Ledger } from "../ledger";

// Offline certificates: EdDSA (Ed25519, RFC 8037) JWTs, signed and exported with `jose` rather
// than hand-rolled encoding. The signing key is made once per ledger and kept in it (meta
// `license_signing_key`), so every host of a shared ledger signs alike and the JWKS any of them
// serves verifies what any other signed; `kid` is the key's RFC 7638 thumbprint.

type Jose = typeof import("jose", { with: { "resolution-mode": "import" } });
/** jose 6 is ESM-only: loaded with a dynamic import from this CommonJS build, once. */
let jose: Promise<Jose> | undefined;
const loadJose = (): Promise<Jose> => (jose ??= import("jose"));

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

export interface SigningKey {
  kid: string;
  publicJwk: PublicJwk;
  privateKey: CryptoKey;
}

export interface CertificateClaims {
  sub: string;
  product: string;
  instance: string | null;
  status: string;
  /** Unix seconds. */
  iat: number;
  exp: number;
}

/** One per ledger: the promise is cached per Ledger object, so a serve process reads it once. */
const cache = new WeakMap<Ledger, Promise<SigningKey>>();

export function signingKey(ledger: Ledger): Promise<SigningKey> {
  let found = cache.get(ledger);
  if (!found) {
    found = loadSigningKey(ledger);
    // A failure (ledger unreachable) is not remembered: the next request tries again.
    found.catch(() => cache.delete(ledger));
    cache.set(ledger, found);
  }
  return found;
}

async function loadSigningKey(ledger: Ledger): Promise<SigningKey> {
  const j = await loadJose();
  let stored = await ledger.getMeta("license_signing_key");
  if (stored === undefined) {
    const { privateKey } = await j.generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    // Two hosts racing to make it both end up with the one stored first.
    await ledger.insertMeta("license_signing_key", JSON.stringify(await j.exportJWK(privateKey)));
    stored = (await ledger.getMeta("license_signing_key")) as string;
  }
  const jwk = JSON.parse(stored) as { kty: string; crv: string; x: string; d: string };
  const privateKey = (await j.importJWK({ ...jwk, alg: "EdDSA" }, "EdDSA")) as CryptoKey;
  const kid = await j.calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
  return { kid, privateKey, publicJwk: { kty: "OKP", crv: "Ed25519", x: jwk.x, kid, alg: "EdDSA", use: "sig" } };
}

export async function jwks(ledger: Ledger): Promise<{ keys: PublicJwk[] }> {
  return { keys: [(await signingKey(ledger)).publicJwk] };
}

export async function signCertificate(ledger: Ledger, claims: CertificateClaims): Promise<string> {
  const j = await loadJose();
  const key = await signingKey(ledger);
  const { sub, iat, exp, ...rest } = claims;
  return new j.SignJWT({ ...rest })
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(key.privateKey);
}
