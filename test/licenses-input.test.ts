import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, test } from "node:test";
import { appConfig, APP_PRODUCT, buyApp, keyIn, serveApp, writeAppFiles } from "./helpers/license-shop";
import { InProcess, inProcess } from "./helpers/in-process";
import { Shop } from "./helpers/shop";

// What the license routes do with input nobody should send, and with too much of it: every
// malformed body is a 400 in the route's shape (never a 500), and one client gets 60 requests
// a minute. The clock is the pass's ManualClock, so "a minute later" is one advance.

let shop: Shop;
let p: InProcess;
let server: Awaited<ReturnType<typeof serveApp>>;
let key: string;

before(async () => {
  shop = await Shop.start({ config: appConfig() });
  writeAppFiles(shop.dir);
  p = await inProcess(shop);
  server = await serveApp(p.deps, shop.stripe.url);
  buyApp(shop.stripe, p.clock.now(), "fuzz@example.com");
  await p.pass();
  key = keyIn(shop.resend.sentTo("fuzz@example.com")[0]?.text);
});
after(async () => {
  await server.app.close();
  await p.close();
  await shop.close();
});

let ipCount = 0;
const nextIp = () => `10.1.${Math.floor(++ipCount / 200)}.${ipCount % 200}`;

async function raw(route: string, body: string | Blob | undefined, contentType: string | undefined, method = "POST"): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { "x-forwarded-for": nextIp() };
  if (contentType) headers["content-type"] = contentType;
  const res = await fetch(`${server.url}/v1/licenses/${route}`, { method, headers, body });
  return { status: res.status, text: await res.text() };
}

test("malformed bodies of every kind answer JSON, never a 500", async () => {
  const bodies: [string | Blob | undefined, string | undefined][] = [
    [undefined, undefined], ["", "application/json"], ["{", "application/json"], ["[]", "application/json"], ["null", "application/json"],
    ["42", "application/json"], ['"license_key"', "application/json"], [JSON.stringify({ license_key: 12 }), "application/json"],
    [JSON.stringify({ license_key: ["a"] }), "application/json"], [JSON.stringify({ license_key: { $gt: "" } }), "application/json"],
    [JSON.stringify({ license_key: key, instance_name: "x".repeat(201) }), "application/json"], [JSON.stringify({ license_key: key, instance_name: 5 }), "application/json"],
    [JSON.stringify({ license_key: key, instance_id: null }), "application/json"], [JSON.stringify({ __proto__: { license_key: key } }), "application/json"],
    [JSON.stringify({ license_key: "x".repeat(100_000) }), "application/json"], ["license_key=a&license_key=b", "application/x-www-form-urlencoded"],
    ["license_key=%E0%A4%A", "application/x-www-form-urlencoded"], ["%%%", "application/x-www-form-urlencoded"], ["license_key=' OR 1=1 --", "application/x-www-form-urlencoded"],
    [new Blob([new Uint8Array([0xff, 0xfe, 0x00, 0x01])]), "application/octet-stream"], ["<xml/>", "text/xml"], ["license_key=" + key, "text/plain"],
    ["license_key=" + key, "multipart/form-data; boundary=x"], ["license_key=" + encodeURIComponent(key) + "&instance_name=", "application/x-www-form-urlencoded"],
    ["x".repeat(20_000), "application/x-www-form-urlencoded"], ["{\"license_key\":\"\\ud800\"}", "application/json; charset=utf-8"],
  ];
  for (const route of ["activate", "validate", "deactivate"]) {
    for (const [body, type] of bodies) {
      const r = await raw(route, body, type);
      assert.ok(r.status < 500, `${route} ${type} ${String(body).slice(0, 40)} → ${r.status} ${r.text.slice(0, 200)}`);
      const parsed = JSON.parse(r.text) as Record<string, unknown>;
      assert.ok(parsed.error === null || typeof parsed.error === "string");
    }
  }
  for (let i = 0; i < 300; i++) {
    const fields: Record<string, unknown> = {};
    for (const f of ["license_key", "instance_name", "instance_id", "junk"]) {
      const pick = (i * 7 + f.length) % 6;
      fields[f] = [undefined, "", "x".repeat(i % 300), i, [i], { a: i }][pick];
    }
    const r = await raw(["activate", "validate", "deactivate"][i % 3] as string, JSON.stringify(fields), "application/json");
    assert.ok([400, 404].includes(r.status), `${JSON.stringify(fields).slice(0, 80)} → ${r.status} ${r.text.slice(0, 200)}`);
  }
  assert.equal((await raw("validate", undefined, undefined, "GET")).status, 405);
  assert.equal((await raw("jwks.json", "x", "text/plain", "POST")).status, 405);
  assert.equal((await raw("nothing", undefined, undefined, "GET")).status, 404);
});

test("a missing field is 400 in the route's shape, naming the field", async () => {
  const r = await raw("activate", new URLSearchParams({ license_key: key }).toString(), "application/x-www-form-urlencoded");
  assert.equal(r.status, 400);
  assert.deepEqual(JSON.parse(r.text), { activated: false, error: "instance_name is required", license_key: null, meta: null });
  const d = await raw("deactivate", JSON.stringify({ license_key: key }), "application/json");
  assert.deepEqual([d.status, JSON.parse(d.text)], [400, { deactivated: false, error: "instance_id is required", license_key: null, meta: null }]);
});

test("one client gets 60 requests a minute on /v1/licenses/* (jwks.json included), then 429 with Retry-After until the minute has passed", async () => {
  const ip = "10.9.9.9";
  const hit = (route: string) =>
    fetch(`${server.url}/v1/licenses/${route}`, route === "jwks.json"
      ? { headers: { "x-forwarded-for": ip } }
      : { method: "POST", headers: { "x-forwarded-for": ip, "content-type": "application/json" }, body: JSON.stringify({ license_key: key }) });
  for (let i = 0; i < 60; i++) {
    const res = await hit(i % 2 ? "validate" : "jwks.json");
    assert.equal(res.status, 200, `request ${i + 1}`);
    await res.arrayBuffer();
  }
  p.clock.advance(20_000);
  const refused = await hit("validate");
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "40");
  assert.equal((await hit("jwks.json")).status, 429);
  // Another client is not held back by this one.
  const other = await fetch(`${server.url}/v1/licenses/jwks.json`, { headers: { "x-forwarded-for": "10.9.9.10" } });
  assert.equal(other.status, 200);
  p.clock.advance(40_000);
  assert.equal((await hit("validate")).status, 200);
});

test("a product with a license whose templates never use {{license.key}}, or {{license.…}} without a license, is a config error (exit 2)", async () => {
  const noKey = await Shop.start({ config: appConfig() });
  try {
    writeAppFiles(noKey.dir);
    const write = (text: string, product: Record<string, unknown>) => {
      noKey.writeConfig({ ...appConfig(), products: [product] });
      fs.writeFileSync(`${noKey.dir}/templates/app.txt`, text);
    };
    write("Hi {{name}}, activations: {{license.activations}}\n", APP_PRODUCT);
    let r = await noKey.run(["check"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr + r.stdout, /products\[0\]\.license: no template of "app" uses \{\{license\.key\}\}/);
    write("Hi {{name}}, key: {{license.key}}\n", { ...APP_PRODUCT, license: undefined });
    r = await noKey.run(["check"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr + r.stdout, /products\[0\]: a template uses \{\{license\.…\}\} but the product has no "license"/);
    write("Key {{license.key}}\n", { ...APP_PRODUCT, license: { prefix: "lower" } });
    r = await noKey.run(["check"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr + r.stdout, /products\[0\]\.license\.prefix: must be 1–16 characters of A-Z and 0-9/);
  } finally {
    await noKey.close();
  }
});
