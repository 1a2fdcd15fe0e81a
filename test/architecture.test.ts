import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

// The folders of src/ are layers: a lower one never imports a higher one, and siblings on one
// layer (ledger/, stripe/) never import each other. src/*.ts are the foundations, except cli.ts.

const SRC = path.resolve(__dirname, "..", "..", "src");
const LAYER: Record<string, number> = { "": 0, ledger: 1, stripe: 1, delivery: 2, downloads: 2, licenses: 2, alerts: 2.5, announce: 3, pass: 3, http: 4, commands: 5, cli: 6 };

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
}

function folderOf(file: string): string {
  const rel = path.relative(SRC, file);
  if (rel === "cli.ts") return "cli";
  return rel.includes(path.sep) ? (rel.split(path.sep)[0] as string) : "";
}

test("no folder of src/ imports a folder on its own layer or above it", () => {
  const wrong: string[] = [];
  for (const file of files(SRC)) {
    const from = folderOf(file);
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?:from|import)\s+"(\.{1,2}\/[^"]+)"/g)) {
      const target = path.resolve(path.dirname(file), m[1] as string);
      const to = folderOf(fs.existsSync(target + ".ts") ? target + ".ts" : path.join(target, "index.ts"));
      if (to === from) continue;
      if ((LAYER[to] as number) >= (LAYER[from] as number)) wrong.push(`${path.relative(SRC, file)} imports ${m[1]}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test("every folder of src/ has a place in the layers", () => {
  const folders = fs.readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  assert.deepEqual(folders.filter((f) => LAYER[f] === undefined), []);
});
