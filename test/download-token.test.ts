import assert from "node:assert/strict";
import { test } from "node:test";
import { newLinkKey, signLink, verifyLink } from "../src/downloads/token";

const key = newLinkKey();
const name = { charge: "ch_3Abc", product: "big-course", file: 1, issue: 2 };

test("a signed link verifies to the purchase, file and issue it names", () => {
  assert.deepEqual(verifyLink(key, signLink(key, name)), name);
});

test("a token is URL-safe and has no padding", () => {
  assert.match(signLink(key, name), /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
});

test("a token signed with another ledger's key does not verify", () => {
  assert.equal(verifyLink(newLinkKey(), signLink(key, name)), null);
});

test("changing any character of a token makes it unknown", () => {
  const token = signLink(key, name);
  for (let i = 0; i < token.length; i++) {
    const c = token[i] === "A" ? "B" : "A";
    const altered = token.slice(0, i) + c + token.slice(i + 1);
    assert.equal(verifyLink(key, altered), null, `altered at ${i}: ${altered}`);
  }
});

test("a token naming another file or issue under the same MAC does not verify", () => {
  const [, mac] = signLink(key, name).split(".");
  const other = Buffer.from("ch_3Abc~big-course~0~2").toString("base64url");
  assert.equal(verifyLink(key, `${other}.${mac}`), null);
});

test("garbage, empty and oversized tokens are unknown, not errors", () => {
  for (const t of ["", ".", "abc", "a.b.c", "x".repeat(2000), "%%%.%%%", `${"a".repeat(10)}.`]) assert.equal(verifyLink(key, t), null);
});

test("a product key with the separator cannot be signed ambiguously", () => {
  assert.throws(() => signLink(key, { ...name, product: "a~b" }));
});
