import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import fs from "node:fs";
import path from "node:path";
import { BACKEND, BIN, DEFAULT_PRODUCTS, paidCharge, Shop } from "./helpers/shop";

// Start-up speed lives in bench/; what pins it here is which libraries a command loads. The CLI
// runs in a child process that lists, on exit, every package in its require cache.
//
// bin/paidup runs `status` from dist/status.js, one bundled file (src/status-main.ts); the CLI's
// own files (dist/src/cli.js, the `entry` of a probe) serve every other command, and `status`
// whenever the bundle hands over. Both are pinned here.

const DIST = path.resolve(path.dirname(BIN), "..", "dist");
const CLI = path.join(DIST, "src", "cli.js");
const BUNDLE = path.join(DIST, "status.js");

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  assert.equal((await shop.run(["init"])).code, 0);
});
after(async () => shop.close());

const HEAVY = ["stripe", "resend", "zod", "winston", "node-cron", "fastify", "pg", "dotenv", "cli-progress"];

/**
 * Runs `paidup args` in a node that prints what it loaded; returns the packages, paidup's own
 * modules (as paths under dist/src, without .js), Node's own public modules and the exit code.
 */
function loadedBy(args: string[], env: Record<string, string> = {}, entry = BIN, at: Shop = shop): Promise<{ code: number | null; packages: string[]; own: string[]; builtins: string[]; stdout: string }> {
  // bin/paidup runs itself when required; any other entry is a module whose main() is called.
  const run = entry === BIN ? `require(${JSON.stringify(BIN)});` : `require(${JSON.stringify(entry)}).main(process.argv);`;
  const probe = `
    process.argv = [process.execPath, ${JSON.stringify(BIN)}, ...${JSON.stringify(args)}];
    process.on("exit", () => {
      const files = Object.keys(require.cache);
      const names = files.map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean);
      const own = files.map((f) => /\\/dist\\/src\\/(.*)\\.js$/.exec(f)?.[1]).filter(Boolean);
      const builtins = process.moduleLoadList.map((m) => /^NativeModule ([^/]+)$/.exec(m)?.[1]).filter(Boolean);
      process.stderr.write("LOADED " + JSON.stringify({ packages: [...new Set(names)], own, builtins }) + "\\n");
    });
    ${run}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", probe], { cwd: at.dir, env: { ...at.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = /LOADED (.*)/.exec(stderr)?.[1];
      if (!line) return reject(new Error(`no module list: ${stderr}`));
      resolve({ code, ...(JSON.parse(line) as { packages: string[]; own: string[]; builtins: string[] }), stdout });
    });
  });
}

test("paidup --version prints the version without loading any library, commander included", async () => {
  const r = await loadedBy(["--version"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.deepEqual(r.packages, []);
});

test("status --offline loads neither Stripe, Resend, zod nor winston, from the bundle or from the CLI's files", async () => {
  for (const entry of [BIN, CLI]) {
    const r = await loadedBy(["status", "--offline"], { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" }, entry);
    assert.equal(r.code, 1, "no pass yet: attention needed");
    // On the postgres backend the ledger itself is reached through pg: that one is needed.
    const heavy = r.packages.filter((p) => HEAVY.includes(p) && !(BACKEND === "postgres" && p === "pg"));
    assert.deepEqual(heavy, [], `${entry} loaded: ${r.packages.join(", ")}`);
  }
});

test("status --offline (what a cron monitor runs every minute) loads neither commander nor the template engine", async () => {
  for (const [args, entry] of [[["status", "--offline"], BIN], [["status", "--json", "--offline"], BIN], [["status", "--offline"], CLI]] as const) {
    const r = await loadedBy([...args], { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" }, entry);
    assert.equal(r.code, 1, "no pass yet: attention needed");
    const extra = r.packages.filter((p) => !["better-sqlite3", "bindings", "file-uri-to-path", "pg", "pg-pool", "pg-protocol", "pg-types", "pg-connection-string", "pgpass", "postgres-array", "postgres-bytea", "postgres-date", "postgres-interval", "pg-int8", "split2", "xtend", "pg-cloudflare"].includes(p));
    assert.deepEqual(extra, [], `${args.join(" ")} loaded: ${r.packages.join(", ")}`);
  }
  // Anything else still goes through commander: an unknown flag is a usage error.
  const bad = await shop.run(["status", "--offline", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--bogus'/);
});

test("status --offline from the CLI's files loads only what it runs: the Ledger's operations it needs, not node:crypto, not the addon search of bindings", async () => {
  // On Node 20 (no compile cache) every module loaded is start-up time: the Ledger requires its
  // operation modules when first used, the look context Stripe's side only with a key, status
  // the judging of charges missing from the ledger only when it asks Stripe, the SQLite opener
  // the migrations only when one must run. (In the bundle the same laziness decides what runs.)
  const r = await loadedBy(["status", "--offline"], { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" }, CLI);
  assert.equal(r.code, 1, "no pass yet: attention needed");
  const unneeded = /^(ledger\/(index|announcements|audience-marks|alerts|buyers|charges|deliveries|email-events|events|link-usage|move|resends)|stripe|delivery\/(catalog|ignore)|pass\/(eligibility|missing-charges|purchase-lookups)|http|announce|alerts|licenses|downloads)(\/|$)/;
  assert.deepEqual(r.own.filter((m) => unneeded.test(m)), [], `loaded: ${r.own.join(", ")}`);
  assert.deepEqual(r.own.filter((m) => /migrations|-schema$/.test(m)), [], "an up-to-date ledger opens without its migrations");
  // A ceiling on the rest, so that new eager imports show here too (32 with SQLite when set, 57 before).
  assert.ok(r.own.length <= 33, `${r.own.length} modules of paidup's own: ${r.own.join(", ")}`);
  // The heaviest of Node's own modules to load (download links' key is made with it, not read);
  // pg needs it for its connection, SQLite does not.
  if (BACKEND === "sqlite") assert.ok(!r.builtins.includes("crypto"), `node:crypto loaded; Node's modules: ${r.builtins.join(", ")}`);
  // better-sqlite3's addon is handed over by its path, not searched for by `bindings`.
  if (BACKEND === "sqlite") assert.deepEqual(r.packages.filter((p) => p === "bindings" || p === "file-uri-to-path"), []);
});

test("bin/paidup runs status --offline from dist/status.js alone, compiled with a code cache this Node accepts", async () => {
  for (const args of [["status", "--offline"], ["status", "--offline", "--json"]]) {
    const r = await loadedBy(args, { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" });
    assert.equal(r.code, 1, "no pass yet: attention needed");
    assert.deepEqual(r.own, [], `no file of dist/src: ${r.own.join(", ")}`);
  }
  // The same compile bin/paidup does: a cache V8 refused would leave every start slower, silently.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JavaScript beside bin/paidup
  const { compile, cacheOf } = require(path.join(path.dirname(BIN), "code-cache.js")) as { compile: (f: string, c?: Buffer) => { cachedDataRejected?: boolean }; cacheOf: (f: string) => Buffer | undefined };
  const cache = cacheOf(BUNDLE);
  assert.ok(cache, "npm run build wrote dist/status.js.cache");
  assert.equal(compile(BUNDLE, cache).cachedDataRejected, false);
});

test("the bundle and the CLI's files give the same answers, and any other status goes to the CLI", async () => {
  const local = await Shop.start();
  try {
    assert.equal((await local.run(["init", "--since", "2h"])).code, 0);
    // Something to show: a charge no product matches, one Resend refused, one delivered.
    const now = Math.floor(Date.now() / 1000);
    local.stripe.addCharge(paidCharge({ amount: 777, metadata: {}, created: now - 120 }));
    local.stripe.addCharge(paidCharge({ created: now - 60, billing_details: { email: "late@example.com", name: "L" } }));
    local.stripe.addCharge(paidCharge({ created: now - 30, billing_details: { email: "fine@example.com", name: "F" } }));
    local.resend.addFault({ method: "POST", path: "/emails", kind: "status", status: 422, times: 1 });
    assert.equal((await local.run(["reconcile"])).code, 1);
    for (const args of [["status", "--offline"], ["status", "--offline", "--json"]]) {
      const viaBin = await local.run(args);
      const viaCli = await loadedBy(args, {}, CLI, local);
      assert.equal(viaBin.code, viaCli.code, args.join(" "));
      // The ages printed move with the clock; the rest must be the same text.
      const steady = (t: string) => t.replace(/\b\d+[smhd]\b/g, "<age>");
      assert.equal(steady(viaBin.stdout), steady(viaCli.stdout), args.join(" "));
      assert.match(viaBin.stdout, /needs_review/);
    }
    // Status asking Stripe is not the bundle's: it hands over to the CLI, which loads its files.
    const online = await loadedBy(["status", "--json"], {}, BIN, local);
    assert.ok(online.own.includes("cli"), `status with Stripe ran from the CLI: ${online.own.join(", ")}`);
  } finally {
    await local.close();
  }
});

test("a bundle whose better-sqlite3 is not the installed one hands status --offline over to the CLI", async () => {
  // As after `npm update better-sqlite3` without a new build: the bundle's JavaScript would meet
  // another version's addon. A copy of the bundle that says it carries another version:
  const installed = (JSON.parse(fs.readFileSync(require.resolve("better-sqlite3/package.json"), "utf8")) as { version: string }).version;
  const text = fs.readFileSync(BUNDLE, "utf8");
  assert.ok(text.includes(`=== ${JSON.stringify(installed)}`), "the bundle compares with the version it was built with");
  const other = path.join(DIST, `status-other-sqlite-${process.pid}.js`);
  fs.writeFileSync(other, text.replace(`=== ${JSON.stringify(installed)}`, '=== "0.0.0-not-installed"'));
  try {
    const r = await loadedBy(["status", "--offline", "--json"], { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" }, other);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).lastPass, null);
    assert.ok(r.own.includes("cli"), `answered by the CLI's files: ${r.own.join(", ")}`);
  } finally {
    fs.rmSync(other, { force: true });
  }
});

test("status keeps answering while the catalog is being edited, and still refuses a bad threshold", async () => {
  shop.writeConfig({ from: "Shop <shop@example.com>", products: [{ key: "half-written" }] });
  const r = await shop.run(["status", "--offline", "--json"]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(JSON.parse(r.stdout).lastPass, null);
  assert.equal((await shop.run(["reconcile"])).code, 2, "a pass refuses the broken catalog");

  shop.writeConfig({ from: "Shop <shop@example.com>", staleAfter: "soon", products: DEFAULT_PRODUCTS });
  const bad = await shop.run(["status", "--offline"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /staleAfter: "soon" is not a duration/);
});
