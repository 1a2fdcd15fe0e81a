"use strict";
// Writes dist/status.js.cache, the V8 code cache bin/paidup compiles the bundle with, after one
// real `status --offline --json` on a throwaway ledger: so the cache holds the functions that
// such a run compiles, not only the top level of the file. Run by scripts/bundle-status.mjs, in
// a process of its own (what it prints is dropped), with the Node that will run paidup.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { compile, run } = require("../bin/code-cache.js");

const root = path.join(__dirname, "..");
const bundle = path.join(root, "dist", "status.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-warm-"));

async function main() {
  try {
    const env = { PATH: process.env.PATH, HOME: dir, PAIDUP_DB: path.join(dir, "state", "paidup.db"), PAIDUP_CONFIG: path.join(dir, "paidup.config.json"), LOG_LEVEL: "error" };
    // A new, empty ledger, as `paidup init` makes it (init itself would want a Stripe key).
    const { ledger } = await require("../dist/src/ledger/open.js").createLedger({ dbPath: env.PAIDUP_DB });
    await ledger.close();
    fs.copyFileSync(path.join(root, "paidup.config.example.json"), env.PAIDUP_CONFIG);
    process.chdir(dir);
    process.env = env;
    const script = compile(bundle);
    await run(script, bundle).main([process.execPath, "paidup", "status", "--offline", "--json"]);
    // 1: nothing has run yet, the answer on a new ledger; anything else is not the path to cache.
    if (process.exitCode !== 1) throw new Error(`status --offline exited ${process.exitCode} on a new ledger`);
    fs.writeFileSync(`${bundle}.cache`, script.createCachedData());
    process.exitCode = 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`warm-status-cache: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
