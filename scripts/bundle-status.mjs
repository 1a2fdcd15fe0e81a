// Bundles dist/src/status-main.js (compiled by tsc) and what it requires into one file,
// dist/status.js, that bin/paidup runs for `paidup status` (see src/status-main.ts for why),
// and has its V8 code cache written beside it (scripts/warm-status-cache.cjs).
// Paidup's own modules and better-sqlite3's JavaScript go in; every other package stays a
// require() of the installed package, loaded only if the run gets to it. better-sqlite3's addon
// and its package.json (whose version the bundle checks at start) also stay where npm put them.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import * as esbuild from "esbuild";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const INLINED = "better-sqlite3";
const sqliteVersion = JSON.parse(fs.readFileSync(path.join(root, "node_modules", INLINED, "package.json"), "utf8")).version;

const packageName = (spec) => (spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);

/** Every package but better-sqlite3's JavaScript stays outside the bundle. */
const installedPackages = {
  name: "installed-packages",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (packageName(args.path) === INLINED && args.path !== `${INLINED}/package.json`) return undefined;
      return { path: args.path, external: true };
    });
  },
};

const outfile = path.join(root, "dist", "status.js");
await esbuild.build({
  entryPoints: [path.join(root, "dist", "src", "status-main.js")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  plugins: [installedPackages],
  define: { BUNDLED_SQLITE_VERSION: JSON.stringify(sqliteVersion) },
  // require.resolve("better-sqlite3") (where its addon is) is meant to run at run time.
  logOverride: { "require-resolve-not-external": "silent" },
  logLevel: "warning",
});

// Its V8 code cache, from a real run; without one (a failed run) the bundle still works, slower.
fs.rmSync(`${outfile}.cache`, { force: true });
const warm = spawnSync(process.execPath, [path.join(root, "scripts", "warm-status-cache.cjs")], { stdio: ["ignore", "ignore", "inherit"] });
if (warm.status !== 0) process.stderr.write("bundle-status: no code cache written; status starts slower\n");
