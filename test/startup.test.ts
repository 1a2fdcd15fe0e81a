import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { BACKEND, BIN, DEFAULT_PRODUCTS, Shop } from "./helpers/shop";

// Start-up speed lives in bench/; what pins it here is which libraries a command loads. The CLI
// runs in a child process that lists, on exit, every package in its require cache.

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
function loadedBy(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; packages: string[]; own: string[]; builtins: string[]; stdout: string }> {
  const probe = `
    process.argv = [process.execPath, ${JSON.stringify(BIN)}, ...${JSON.stringify(args)}];
    process.on("exit", () => {
      const files = Object.keys(require.cache);
      const names = files.map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean);
      const own = files.map((f) => /\\/dist\\/src\\/(.*)\\.js$/.exec(f)?.[1]).filter(Boolean);
      const builtins = process.moduleLoadList.map((m) => /^NativeModule ([^/]+)$/.exec(m)?.[1]).filter(Boolean);
      process.stderr.write("LOADED " + JSON.stringify({ packages: [...new Set(names)], own, builtins }) + "\\n");
    });
    require(${JSON.stringify(BIN)});`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", probe], { cwd: shop.dir, env: { ...shop.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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

test("status --offline loads neither Stripe, Resend, zod nor winston", async () => {
  const r = await loadedBy(["status", "--offline"], { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" });
  assert.equal(r.code, 1, "no pass yet: attention needed");
  // On the postgres backend the ledger itself is reached through pg: that one is needed.
  const heavy = r.packages.filter((p) => HEAVY.includes(p) && !(BACKEND === "postgres" && p === "pg"));
  assert.deepEqual(heavy, [], `loaded: ${r.packages.join(", ")}`);
});

test("status --offline (what a cron monitor runs every minute) loads neither commander nor the template engine", async () => {
  for (const args of [["status", "--offline"], ["status", "--json", "--offline"]]) {
    const r = await loadedBy(args, { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" });
    assert.equal(r.code, 1, "no pass yet: attention needed");
    const extra = r.packages.filter((p) => !["better-sqlite3", "bindings", "file-uri-to-path", "pg", "pg-pool", "pg-protocol", "pg-types", "pg-connection-string", "pgpass", "postgres-array", "postgres-bytea", "postgres-date", "postgres-interval", "pg-int8", "split2", "xtend", "pg-cloudflare"].includes(p));
    assert.deepEqual(extra, [], `${args.join(" ")} loaded: ${r.packages.join(", ")}`);
  }
  // Anything else still goes through commander: an unknown flag is a usage error.
  const bad = await shop.run(["status", "--offline", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown option '--bogus'/);
});

test("status --offline loads only what it runs: the Ledger's operations it needs, not node:crypto, not the addon search of bindings", async () => {
  // On Node 20 (no compile cache) every module loaded is start-up time: the Ledger requires its
  // operation modules when first used, the look context Stripe's side only with a key, status
  // the judging of charges missing from the ledger only when it asks Stripe.
  const r = await loadedBy(["status", "--offline"], { STRIPE_SECRET_KEY: "", RESEND_API_KEY: "" });
  assert.equal(r.code, 1, "no pass yet: attention needed");
  const unneeded = /^(ledger\/(index|announcements|audience-marks|alerts|buyers|charges|deliveries|email-events|events|link-usage|move|resends)|stripe|delivery\/(catalog|ignore)|pass\/(eligibility|missing-charges|purchase-lookups)|http|announce|alerts|licenses|downloads)(\/|$)/;
  assert.deepEqual(r.own.filter((m) => unneeded.test(m)), [], `loaded: ${r.own.join(", ")}`);
  // A ceiling on the rest, so that new eager imports show here too (38 with SQLite when set, 57 before).
  assert.ok(r.own.length <= 40, `${r.own.length} modules of paidup's own: ${r.own.join(", ")}`);
  // The heaviest of Node's own modules to load (download links' key is made with it, not read);
  // pg needs it for its connection, SQLite does not.
  if (BACKEND === "sqlite") assert.ok(!r.builtins.includes("crypto"), `node:crypto loaded; Node's modules: ${r.builtins.join(", ")}`);
  // better-sqlite3's addon is handed over by its path, not searched for by `bindings`.
  if (BACKEND === "sqlite") assert.deepEqual(r.packages.filter((p) => p === "bindings" || p === "file-uri-to-path"), []);
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
