"use strict";
// dist/status.js (one bundled file: src/status-main.ts says why) is compiled with the V8 code
// cache that `npm run build` writes beside it, dist/status.js.cache (scripts/warm-status-cache.cjs):
// without it V8 reads through the whole 250 kB bundle at every start, and compiles each function
// that `status --offline` runs, before it answers. A cache that this Node
// does not accept (another version, other flags) is ignored by V8, and one older than the bundle
// is not used: either way the file compiles as any other.
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const Module = require("node:module");

// The same wrapper Node puts around a CommonJS file, so the bundle runs as if required.
const HEAD = "(function (exports, require, module, __filename, __dirname) { ";
const TAIL = "\n})";

/** `file` compiled as a CommonJS module's function, with `cachedData` if given. */
function compile(file, cachedData) {
  const source = fs.readFileSync(file, "utf8");
  return new vm.Script(HEAD + source + TAIL, {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
}

/** The code cache written for `file` by the build, if it is at least as new as the file. */
function cacheOf(file) {
  try {
    const cache = `${file}.cache`;
    if (fs.statSync(cache).mtimeMs < fs.statSync(file).mtimeMs) return undefined;
    return fs.readFileSync(cache);
  } catch {
    return undefined;
  }
}

/** Runs `script` (from compile) as the CommonJS module `file`; returns its exports. */
function run(script, file) {
  const mod = new Module(file, module);
  mod.filename = file;
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  return mod.exports;
}

/** Loads `file` as a CommonJS module, compiled with its code cache when there is one. */
function requireCached(file) {
  return run(compile(file, cacheOf(file)), file);
}

module.exports = { compile, cacheOf, run, requireCached };
