// A desktop app's license check against paidup's /v1/licenses API: validate once online, keep
// the certificate and the public key, then work offline until the certificate's `exp`.
// Usage: node license-client.mjs https://shop.example.com FOCUS-XXXXX-… [instance_id]
/* global process, Buffer, URLSearchParams, fetch, console */
import crypto from "node:crypto";
import fs from "node:fs";

const [base, licenseKey, instanceId] = process.argv.slice(2);
const CACHE = ".license-cache.json";
const b64 = (s) => Buffer.from(s, "base64url");

async function online() {
  const body = new URLSearchParams({ license_key: licenseKey, ...(instanceId ? { instance_id: instanceId } : {}) });
  const res = await fetch(`${base}/v1/licenses/validate`, { method: "POST", body });
  const answer = await res.json();
  if (!answer.valid) throw new Error(`license not valid: ${answer.error}`);
  const jwks = await (await fetch(`${base}/v1/licenses/jwks.json`)).json();
  fs.writeFileSync(CACHE, JSON.stringify({ certificate: answer.certificate, jwks }));
}

/** The certificate's claims if its EdDSA signature verifies and it has not expired, else null. */
function offline() {
  if (!fs.existsSync(CACHE)) return null;
  const { certificate, jwks } = JSON.parse(fs.readFileSync(CACHE, "utf8"));
  const [h, c, s] = certificate.split(".");
  const jwk = jwks.keys.find((k) => k.kid === JSON.parse(b64(h)).kid);
  const key = jwk && crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x }, format: "jwk" });
  if (!key || !crypto.verify(null, Buffer.from(`${h}.${c}`), key, b64(s))) return null;
  const claims = JSON.parse(b64(c));
  return claims.exp * 1000 > Date.now() ? claims : null;
}

let claims = offline();
if (!claims) await online().then(() => (claims = offline()));
console.log(`licensed (${claims.product}, ${claims.status}) offline until ${new Date(claims.exp * 1000).toISOString()}`);
