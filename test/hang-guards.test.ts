import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { Shop } from "./helpers/shop";
import { exitWithin, listeningOn } from "./helpers/wait";

// The guards that turn a hung child into a red test with its output, instead of a test run that
// never ends (CI gives up on the whole run after 90 minutes and shows nothing of which test hung).

test("listeningOn waits for the whole port: a line cut by the pipe after two digits is not a port", async () => {
  // The child writes "…:40" and, later, "123/webhooks/stripe": a reader matching on the first
  // chunk would have taken port 40.
  const child = spawn(process.execPath, ["-e", `
    process.stdout.write("listening on http://127.0.0.1:40");
    setTimeout(() => process.stdout.write("123/webhooks/stripe\\n"), 150);
    setTimeout(() => undefined, 400);
  `], { stdio: ["ignore", "pipe", "pipe"] });
  assert.equal(await listeningOn(child), "http://127.0.0.1:40123");
  await exitWithin(child);
});

test("listeningOn gives up after its time with the child's stderr, when no line comes", async () => {
  const child = spawn(process.execPath, ["-e", `process.stderr.write("stuck before listening"); setInterval(() => undefined, 1000)`], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    await assert.rejects(listeningOn(child, () => stderr, 500), /no "listening on" line within 500 ms: stuck before listening/);
  } finally {
    child.kill("SIGKILL");
  }
});

test("exitWithin kills a child that ignores SIGTERM and fails with its stderr", async () => {
  const child = spawn(process.execPath, ["-e", `process.on("SIGTERM", () => process.stderr.write("ignoring SIGTERM")); process.stdout.write("ready\\n"); setInterval(() => undefined, 1000)`], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  await new Promise((resolve) => child.stdout.once("data", resolve));
  child.kill("SIGTERM");
  await assert.rejects(exitWithin(child, () => stderr, 500), /still running 500 ms after it was asked to stop: ignoring SIGTERM/);
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));
  assert.equal(child.signalCode, "SIGKILL");
});

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init"])).code, 0);
});
after(() => shop.close());

test("a paidup command still running past its limit is killed, and the run fails naming it with its output", async () => {
  // The daemon never ends by itself: the limit is what stops it.
  await assert.rejects(shop.run(["daemon", "--schedule", "*/1 * * * * *"], { limitMs: 3000, env: { LOG_LEVEL: "info" } }), /paidup daemon --schedule \*\/1 \* \* \* \* \* was still running after 3000 ms, killed:[\s\S]*daemon started/);
});
