import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../src/config";
import { UsageError } from "../src/errors";
import { COURSE_PRODUCT, courseConfig, writeCourseFiles } from "./helpers/downloads-shop";
import { Shop, writeShopFiles } from "./helpers/shop";

// The config of download links: publicUrl, products[].downloads and the templates that show them.

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-config-dl-"));
  writeShopFiles(dir);
  writeCourseFiles(dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function load(config: Record<string, unknown>) {
  const file = path.join(dir, "paidup.config.json");
  fs.writeFileSync(file, JSON.stringify(config));
  return loadConfig(file);
}

function loadError(config: Record<string, unknown>): string {
  try {
    load(config);
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail("the config loaded");
}

test("downloads take their defaults (7d, 5) and resolve files against the config's folder; publicUrl loses its trailing slash", () => {
  const c = load(courseConfig("https://shop.example.com/", { products: [{ ...COURSE_PRODUCT, downloads: { files: ["products/course.bin"] } }] }));
  assert.equal(c.publicUrl, "https://shop.example.com");
  assert.deepEqual(c.products[0]?.downloads, { files: [path.join(dir, "products", "course.bin")], expiresAfterMs: 7 * 86_400_000, maxDownloads: 5 });
});

test("a product with downloads needs publicUrl", () => {
  const { publicUrl: _gone, ...rest } = courseConfig();
  assert.match(loadError(rest), /publicUrl: is required because products\[3\] has downloads/);
});

test("publicUrl must be an http(s) URL without query", () => {
  assert.match(loadError(courseConfig("ftp://shop.example.com")), /publicUrl: must be an http:\/\/ or https:\/\/ URL/);
  assert.match(loadError(courseConfig("https://shop.example.com/?a=1")), /publicUrl: must not have a query/);
});

test("a product with downloads whose templates never use {{#downloads}} is a config error", () => {
  const product = { ...COURSE_PRODUCT, html: undefined, text: "templates/ebook.txt" };
  assert.match(loadError(courseConfig(undefined, { products: [product] })), /products\[0\]\.downloads: no template of "course" uses \{\{#downloads\}\}/);
});

test("a template that uses {{downloads}} in a product without downloads is a config error", () => {
  const { downloads: _gone, ...product } = COURSE_PRODUCT;
  assert.match(loadError(courseConfig(undefined, { products: [product] })), /products\[0\]: a template uses \{\{downloads\}\} but the product has no "downloads"/);
});

test("bad downloads fields name their path", () => {
  const product = { ...COURSE_PRODUCT, downloads: { files: [], expiresAfter: "soon", maxDownloads: 0 } };
  const message = loadError(courseConfig(undefined, { products: [product] }));
  assert.match(message, /products\[0\]\.downloads\.files/);
  assert.match(message, /products\[0\]\.downloads\.expiresAfter/);
  assert.match(message, /products\[0\]\.downloads\.maxDownloads/);
});

test("check reports a missing download file and passes once it is there", async () => {
  const shop = await Shop.start({ config: courseConfig() });
  try {
    writeCourseFiles(shop.dir);
    assert.equal((await shop.run(["init"])).code, 0);
    fs.rmSync(path.join(shop.dir, "products", "workbook.pdf"));
    const missing = await shop.run(["check"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stdout + missing.stderr, /downloads of course.*workbook\.pdf is missing/);
    writeCourseFiles(shop.dir);
    const ok = await shop.run(["check"]);
    assert.match(ok.stdout + ok.stderr, /downloads of course.*2 file\(s\) present and readable/);
    assert.match(ok.stdout + ok.stderr, /public URL.*https:\/\/shop\.example\.com\/d\//);
  } finally {
    await shop.close();
  }
});
