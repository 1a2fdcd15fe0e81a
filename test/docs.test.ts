import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";

// The README and docs/ ship in the package and show on a clone: a link that leaves the
// repository (an interface document beside the checkout), or names a file the package leaves out
// (tests, benchmarks), is broken on one of them.

const root = path.join(__dirname, "..", "..");

function userDocs(): string[] {
  const docs = fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => path.join("docs", f));
  return ["README.md", "deploy/README.md", ...docs];
}

function links(markdown: string): string[] {
  const found: string[] = [];
  for (const m of markdown.matchAll(/\]\(([^)\s]+)\)/g)) found.push(m[1]!);
  return found;
}

/** What `npm pack` ships: package.json's `files`, plus what npm always adds. */
function shipped(relative: string): boolean {
  const files = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { files: string[] }).files;
  const always = ["package.json", "README.md", "CHANGELOG.md", "LICENSE"];
  return always.includes(relative) || files.some((f) => !f.startsWith("!") && (relative === f.replace(/\/$/, "") || relative.startsWith(f.endsWith("/") ? f : `${f}/`)));
}

test("every link in the README, deploy/README.md and docs/ points to a file that ships in the package", () => {
  const broken: string[] = [];
  for (const doc of userDocs()) {
    const text = fs.readFileSync(path.join(root, doc), "utf8");
    for (const link of links(text)) {
      if (link.startsWith("#")) continue;
      if (/^[a-z]+:/i.test(link)) {
        broken.push(`${doc}: ${link} (points outside the repository)`);
        continue;
      }
      const target = path.resolve(path.dirname(path.join(root, doc)), link.split("#")[0]!);
      const relative = path.relative(root, target);
      if (!target.startsWith(root + path.sep) || !fs.existsSync(target) || !shipped(relative)) broken.push(`${doc}: ${link}`);
    }
  }
  assert.deepEqual(broken, []);
});

test("the reference documents every command, exit code, state and environment variable of the CLI", () => {
  const reference = userDocs().map((d) => fs.readFileSync(path.join(root, d), "utf8")).join("\n");
  const commands = ["init", "reconcile", "daemon", "status", "show", "retry", "resolve", "check", "resend", "evidence", "lookup", "move-ledger", "serve", "license"];
  const states = ["awaiting_payment", "sending", "delivered", "retrying", "needs_review", "skipped", "resolved", "bounced", "missing"];
  const env = [
    "STRIPE_SECRET_KEY", "RESEND_API_KEY", "PAIDUP_CONFIG", "PAIDUP_DB", "PAIDUP_DATABASE_URL", "STRIPE_WEBHOOK_SECRET",
    "RESEND_WEBHOOK_SECRET", "PAIDUP_HEARTBEAT_URL", "PAIDUP_ALERT_WEBHOOK_URL", "STRIPE_API_BASE", "RESEND_BASE_URL", "LOG_LEVEL", "LOG_FORMAT",
  ];
  const missing = [
    ...commands.filter((c) => !reference.includes(`paidup ${c}`)),
    ...states.filter((s) => !reference.includes(`\`${s}\``)),
    ...env.filter((e) => !reference.includes(`\`${e}\``)),
    ...["/webhooks/stripe", "/webhooks/resend", "/d/<token>", "/downloads", "/healthz", "/metrics", "/v1/licenses/activate", "/v1/licenses/jwks.json"].filter((r) => !reference.includes(r)),
  ];
  assert.deepEqual(missing, []);
  for (const code of [0, 1, 2, 3]) assert.match(reference, new RegExp(`\\| ${code} \\|`), `exit code ${code}`);
});
