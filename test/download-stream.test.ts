import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { after, before, test } from "node:test";
import { byteCounter, openDownload } from "../src/downloads/file-stream";
import { attachmentDisposition, planRange } from "../src/downloads/range";

// The streaming half of a download link, on a real HTTP server and a real file.

let dir: string;
let file: string;
let bytes: Buffer;
let server: http.Server;
let base: string;
const served: number[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-stream-"));
  file = path.join(dir, "course.mp4");
  bytes = crypto.randomBytes(1_000_003);
  fs.writeFileSync(file, bytes);
  server = http.createServer((req, res) => {
    void (async () => {
      const answer = await openDownload(file, "Café — course.mp4", {
        method: req.method === "HEAD" ? "HEAD" : "GET",
        range: req.headers.range,
        ifRange: req.headers["if-range"] as string | undefined,
      });
      res.writeHead(answer.status, answer.headers);
      if (!answer.body) return res.end();
      await pipeline(answer.body, byteCounter((n) => served.push(n)), res).catch(() => undefined);
    })();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

test("a GET without Range answers 200 with the whole file, its length, ranges accepted and an attachment name", async () => {
  const res = await fetch(base);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), String(bytes.length));
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename="Caf_ _ course\.mp4"; filename\*=UTF-8''Caf%C3%A9%20%E2%80%94%20course\.mp4$/);
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
});

test("a Range answers 206 with exactly those bytes and a Content-Range", async () => {
  const res = await fetch(base, { headers: { range: "bytes=100-199" } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-range"), `bytes 100-199/${bytes.length}`);
  assert.equal(res.headers.get("content-length"), "100");
  assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(100, 200)));
});

test("an open-ended and a suffix range serve the tail of the file", async () => {
  const open = await fetch(base, { headers: { range: `bytes=${bytes.length - 10}-` } });
  assert.equal(open.status, 206);
  assert.ok(Buffer.from(await open.arrayBuffer()).equals(bytes.subarray(bytes.length - 10)));
  const suffix = await fetch(base, { headers: { range: "bytes=-7" } });
  assert.equal(suffix.status, 206);
  assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(bytes.subarray(bytes.length - 7)));
});

test("a range starting past the end answers 416 with the file's size", async () => {
  const res = await fetch(base, { headers: { range: `bytes=${bytes.length}-` } });
  assert.equal(res.status, 416);
  assert.equal(res.headers.get("content-range"), `bytes */${bytes.length}`);
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

test("HEAD answers the headers of a GET and no body", async () => {
  const res = await fetch(base, { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), String(bytes.length));
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

test("an If-Range that no longer matches the file serves the whole file again", async () => {
  const res = await fetch(base, { headers: { range: "bytes=10-19", "if-range": '"stale-etag"' } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  const etag = (await fetch(base, { method: "HEAD" })).headers.get("etag") as string;
  const same = await fetch(base, { headers: { range: "bytes=10-19", "if-range": etag } });
  assert.equal(same.status, 206);
  await same.arrayBuffer();
});

test("the byte counter reports what was served, also when the client hangs up midway", async () => {
  served.length = 0;
  const res = await fetch(base, { headers: { range: "bytes=0-999" } });
  await res.arrayBuffer();
  const aborter = new AbortController();
  const partial = await fetch(base, { signal: aborter.signal });
  const reader = partial.body!.getReader();
  await reader.read();
  aborter.abort();
  await reader.read().catch(() => undefined);
  while (served.length < 2) await new Promise((r) => setImmediate(r));
  assert.equal(served[0], 1000);
  assert.ok((served[1] as number) < bytes.length, `a hung-up download counts fewer bytes than the file (${served[1]})`);
});

test("range planning: malformed and multi-range headers are ignored, an empty file has nothing to range over", () => {
  assert.equal(planRange(100, "bytes=0-1,5-6").status, 200);
  assert.equal(planRange(100, "items=0-5").status, 200);
  assert.equal(planRange(100, "bytes=9-2").status, 200);
  assert.deepEqual(planRange(100, "bytes=90-500"), { status: 206, start: 90, end: 99, length: 10 });
  assert.equal(planRange(0, "bytes=0-").status, 416);
  assert.deepEqual(planRange(0, undefined), { status: 200, start: 0, end: -1, length: 0 });
});

test("a file name with quotes cannot break out of the Content-Disposition header", () => {
  assert.equal(attachmentDisposition('a"b\\c.zip').split('"').length, 3);
});
