import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, test } from "node:test";
import { appConfig, buyApp, keyIn, post, serveApp, writeAppFiles } from "./helpers/license-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop, SQLITE_ONLY } from "./helpers/shop";
import { createLedger } from "../src/ledger";

// License keys end to end in one process: a real pass emails the key through the real Resend
// SDK to the fake, and the key in that email is used on serve's own license routes.

let shop: Shop;
let p: InProcess;
let server: Awaited<ReturnType<typeof serveApp>>;
let ipCount = 0;
/** Each test its own client address, so the per-IP limit is only met where a test means it. */
const nextIp = () => `10.0.0.${++ipCount}`;

before(async () => {
  shop = await Shop.start({ config: appConfig() });
  writeAppFiles(shop.dir);
  p = await inProcess(shop);
  server = await serveApp(p.deps, shop.stripe.url);
});
after(async () => {
  await server.app.close();
  await p.close();
  await shop.close();
});

async function bought(email: string, quantity = 1): Promise<{ charge: string; key: string; text: string }> {
  const charge = buyApp(shop.stripe, p.clock.now(), email, quantity);
  await p.pass();
  assert.equal((await p.row(charge.id))?.state, "delivered");
  const mail = shop.resend.sentTo(email).at(-1);
  return { charge: charge.id, key: keyIn(mail?.text), text: mail?.text ?? "" };
}

test("the email carries one key of the contract's form, its activation limit (activations × quantity) and its expiry", async () => {
  const { key, text, charge } = await bought("form@example.com", 3);
  assert.match(key, /^FOCUS-[A-Z0-9-]+$/);
  assert.ok(key.length <= 64);
  assert.ok(key.replace(/^FOCUS-/, "").replace(/-/g, "").length * 5 >= 128, "at least 128 random bits");
  assert.match(text, /^Activations: 6$/m);
  assert.match(text, /^Expires: never$/m);
  const keys = await p.ledger.licensesOfCharge(charge);
  assert.equal(keys.length, 1);
  assert.equal(keys[0]?.license_key, key);
});

test("a send whose answer was lost is repeated byte for byte with the same key, and the key the buyer received validates", async () => {
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "reset-after-processing", times: 1 });
  const charge = buyApp(shop.stripe, p.clock.now(), "crash@example.com");
  await p.pass();
  assert.notEqual((await p.row(charge.id))?.state, "delivered");
  p.clock.advance(10 * 60_000);
  await p.pass();
  assert.equal((await p.row(charge.id))?.state, "delivered");
  const mails = shop.resend.sentTo("crash@example.com");
  assert.equal(mails.length, 1, "Resend recognised the repeat: one email");
  const key = keyIn(mails[0]?.text);
  const v = await post(server.url, "validate", { license_key: key }, { ip: nextIp() });
  assert.equal(v.status, 200);
  assert.equal(v.body.valid, true);
  assert.equal(v.body.license_key.key, key);
  assert.equal(v.body.license_key.status, "inactive");
  assert.equal(v.body.meta.order_id, charge.id);
});

test("activation answers 200 with the instance, up to the limit; then 400; deactivating frees the slot at once", async () => {
  const { key, charge } = await bought("limit@example.com");
  const ip = nextIp();
  const one = await post(server.url, "activate", { license_key: key, instance_name: "laptop" }, { ip });
  assert.equal(one.status, 200);
  assert.deepEqual(Object.keys(one.body), ["activated", "error", "license_key", "instance", "meta"]);
  assert.equal(one.body.activated, true);
  assert.equal(one.body.error, null);
  assert.equal(one.body.instance.name, "laptop");
  assert.equal(one.body.license_key.status, "active");
  assert.equal(one.body.license_key.activation_usage, 1);
  assert.equal(one.body.license_key.activation_limit, 2);
  assert.deepEqual(one.body.meta, {
    store_id: null, order_id: charge, order_item_id: null, product_id: "app", product_name: "Focus App", variant_id: null, variant_name: null,
    customer_id: null, customer_name: "Ada Buyer", customer_email: "limit@example.com",
  });
  // The same name twice is two instances (JSON body this time).
  const two = await post(server.url, "activate", { license_key: key, instance_name: "laptop" }, { ip, json: true });
  assert.equal(two.status, 200);
  assert.notEqual(two.body.instance.id, one.body.instance.id);
  const three = await post(server.url, "activate", { license_key: key, instance_name: "desktop" }, { ip });
  assert.equal(three.status, 400);
  assert.deepEqual(Object.keys(three.body), ["activated", "error", "license_key", "meta"]);
  assert.equal(three.body.activated, false);
  assert.match(three.body.error, /activation limit/);
  assert.equal(three.body.license_key.activation_usage, 2);

  const validInstance = await post(server.url, "validate", { license_key: key, instance_id: one.body.instance.id }, { ip });
  assert.equal(validInstance.body.valid, true);
  assert.equal(validInstance.body.instance.id, one.body.instance.id);

  const off = await post(server.url, "deactivate", { license_key: key, instance_id: one.body.instance.id }, { ip });
  assert.equal(off.status, 200);
  assert.deepEqual(Object.keys(off.body), ["deactivated", "error", "license_key", "meta"]);
  assert.equal(off.body.deactivated, true);
  assert.equal(off.body.license_key.activation_usage, 1);
  const again = await post(server.url, "deactivate", { license_key: key, instance_id: one.body.instance.id }, { ip });
  assert.equal(again.status, 404);
  assert.equal(again.body.deactivated, false);
  const gone = await post(server.url, "validate", { license_key: key, instance_id: one.body.instance.id }, { ip });
  assert.equal(gone.status, 200);
  assert.equal(gone.body.valid, false);
  assert.equal(gone.body.instance, null);
  assert.equal(gone.body.certificate, null);
  const freed = await post(server.url, "activate", { license_key: key, instance_name: "desktop" }, { ip });
  assert.equal(freed.status, 200);
  // Every instance deactivated: the key stays active.
  for (const id of [two.body.instance.id, freed.body.instance.id]) assert.equal((await post(server.url, "deactivate", { license_key: key, instance_id: id }, { ip })).status, 200);
  assert.equal((await post(server.url, "validate", { license_key: key }, { ip })).body.license_key.status, "active");
});

test("an unknown key is 404 with every field of the route null, the same answer for a near miss", async () => {
  const { key } = await bought("unknown@example.com");
  const ip = nextIp();
  const near = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
  const answers = [];
  for (const k of [near, "FOCUS-AAAAA", "x".repeat(255)]) {
    const v = await post(server.url, "validate", { license_key: k }, { ip });
    assert.equal(v.status, 404);
    answers.push(v.body);
  }
  for (const a of answers) assert.deepEqual(a, { valid: false, error: "license_key not found.", license_key: null, instance: null, meta: null, certificate: null });
  const act = await post(server.url, "activate", { license_key: near, instance_name: "x" }, { ip });
  assert.deepEqual([act.status, act.body], [404, { activated: false, error: "license_key not found.", license_key: null, meta: null }]);
  const de = await post(server.url, "deactivate", { license_key: near, instance_id: "nope" }, { ip });
  assert.deepEqual([de.status, de.body], [404, { deactivated: false, error: "license_key not found.", license_key: null, meta: null }]);
});

test("the certificate verifies offline against the JWKS with Node's own crypto, with the contract's claims and header", async () => {
  const { key } = await bought("cert@example.com");
  const ip = nextIp();
  const act = await post(server.url, "activate", { license_key: key, instance_name: "studio" }, { ip });
  const v = await post(server.url, "validate", { license_key: key, instance_id: act.body.instance.id }, { ip });
  const certificate = v.body.certificate as string;
  const jwksRes = await fetch(`${server.url}/v1/licenses/jwks.json`, { headers: { "x-forwarded-for": ip } });
  assert.equal(jwksRes.status, 200);
  const set = (await jwksRes.json()) as { keys: Record<string, string>[] };
  assert.equal(set.keys.length, 1);
  const jwk = set.keys[0] as Record<string, string>;
  assert.deepEqual(Object.keys(jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
  assert.deepEqual([jwk.kty, jwk.crv, jwk.alg, jwk.use], ["OKP", "Ed25519", "EdDSA", "sig"]);

  // A second, independent verifier: Node's crypto with the JWK, no jose.
  const [h, c, s] = certificate.split(".") as [string, string, string];
  const header = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, string>;
  assert.equal(header.alg, "EdDSA");
  assert.equal(header.kid, jwk.kid);
  const publicKey = crypto.createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x as string }, format: "jwk" });
  assert.equal(crypto.verify(null, Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, "base64url")), true);
  const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(c, "base64url").toString()), status: "active", exp: 9e9 })).toString("base64url");
  assert.equal(crypto.verify(null, Buffer.from(`${h}.${tampered}`), publicKey, Buffer.from(s, "base64url")), false);

  const claims = JSON.parse(Buffer.from(c, "base64url").toString()) as Record<string, unknown>;
  assert.equal(claims.sub, v.body.license_key.id);
  assert.equal(claims.product, "app");
  assert.equal(claims.instance, act.body.instance.id);
  assert.equal(claims.status, "active");
  assert.equal(claims.iat, Math.floor(p.clock.now() / 1000));
  assert.equal(claims.exp, (claims.iat as number) + 3 * 86_400, "offlineFor 3d");
  assert.ok(!String(certificate).includes(key), "the certificate does not carry the key");
});

test("the signing key is made once per ledger: another process on the same ledger publishes the same JWKS", { skip: SQLITE_ONLY }, async () => {
  const ip = nextIp();
  const { ledger } = await createLedger({ dbPath: p.ledger.where });
  const other = await serveApp({ ...p.deps, ledger }, shop.stripe.url);
  try {
    const a = await (await fetch(`${server.url}/v1/licenses/jwks.json`, { headers: { "x-forwarded-for": ip } })).json();
    const b = await (await fetch(`${other.url}/v1/licenses/jwks.json`, { headers: { "x-forwarded-for": ip } })).json();
    assert.deepEqual(a, b);
  } finally {
    await other.app.close();
    await ledger.close();
  }
});

test("expiresAfter runs from when Resend first accepted the email, and the certificate never outlives the key", async () => {
  shop.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 500, times: 1 });
  const charge = buyApp(shop.stripe, p.clock.now(), "pro@example.com", 1, {}, "price_pro");
  const madeAt = p.clock.now();
  await p.pass();
  assert.notEqual((await p.row(charge.id))?.state, "delivered");
  for (let i = 0; i < 5 && (await p.row(charge.id))?.state !== "delivered"; i++) {
    p.clock.advance(2 * 3_600_000);
    await p.pass();
  }
  assert.equal((await p.row(charge.id))?.state, "delivered");
  const acceptedAt = p.clock.now();
  const mail = shop.resend.sentTo("pro@example.com").at(-1);
  const key = keyIn(mail?.text);
  assert.match(key, /^PRO-/);
  assert.match(mail?.text ?? "", new RegExp(`^Expires: ${new Date(madeAt + 30 * 86_400_000).toISOString().slice(0, 10)}$`, "m"));
  assert.match(mail?.text ?? "", /^Activations: 3$/m, "activations default to 3");
  const ip = nextIp();
  const v = await post(server.url, "validate", { license_key: key }, { ip });
  assert.equal(v.body.license_key.expires_at, new Date(acceptedAt + 30 * 86_400_000).toISOString());
  p.clock.advance(29 * 86_400_000);
  const late = await post(server.url, "validate", { license_key: key }, { ip });
  assert.equal(late.body.valid, true);
  const claims = JSON.parse(Buffer.from((late.body.certificate as string).split(".")[1] as string, "base64url").toString()) as { exp: number };
  assert.equal(claims.exp, Math.floor((acceptedAt + 30 * 86_400_000) / 1000), "7d offline capped at the key's expiry");
  p.clock.advance(86_400_000);
  const expired = await post(server.url, "validate", { license_key: key }, { ip });
  assert.deepEqual([expired.status, expired.body.valid, expired.body.license_key.status, expired.body.certificate], [200, false, "expired", null]);
  const act = await post(server.url, "activate", { license_key: key, instance_name: "late" }, { ip });
  assert.equal(act.status, 400);
  assert.match(act.body.error, /expired/);
  p.clock.advance(-30 * 86_400_000);
});
