import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";

// `npm run demo` follows the CLI's rule for terminal escapes: bold headings on a terminal, plain
// text when piped (`npm run demo | cat`) or with NO_COLOR. The demo runs for real against its
// in-process fakes; a terminal is given to it with script(1) where that exists.

const DEMO = path.resolve(__dirname, "..", "demo", "demo.js");
const ESC = "\x1b[";

function run(command: string, args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

const hasScript = spawnSync("script", ["--version"]).status === 0;
/** The demo with a pseudo-terminal as its stdout (script -q -e -c … /dev/null). */
const onTerminal = (env: Record<string, string | undefined>) => run("script", ["-qec", `${JSON.stringify(process.execPath)} ${JSON.stringify(DEMO)}`, "/dev/null"], env);

test("the demo piped (npm run demo | cat) prints no terminal escapes, and still its headings", async () => {
  const r = await run(process.execPath, [DEMO], {});
  assert.equal(r.code, 0, r.out);
  assert.ok(!r.out.includes(ESC), `an escape in: ${JSON.stringify(r.out.slice(r.out.indexOf(ESC) - 20, r.out.indexOf(ESC) + 20))}`);
  assert.match(r.out, /^== first pass: delivers /m);
});

test("the demo on a terminal prints bold headings, and none with NO_COLOR", { skip: hasScript ? false : "script(1) is not installed" }, async () => {
  const tty = await onTerminal({});
  assert.equal(tty.code, 0, tty.out);
  assert.ok(tty.out.includes(`${ESC}1m== first pass`), "bold on a terminal");
  const noColour = await onTerminal({ NO_COLOR: "1" });
  assert.equal(noColour.code, 0, noColour.out);
  assert.ok(!noColour.out.includes(`${ESC}1m`), "NO_COLOR: no bold");
  assert.match(noColour.out, /== first pass: delivers /);
});
