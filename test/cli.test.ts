import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, test } from "node:test";
import { paidCharge, RESEND_KEY, Shop, stackTraceLines, STRIPE_KEY } from "./helpers/shop";

// The CLI's own answers to mistakes: exit codes, help, --json failures, log levels.

let shop: Shop;
before(async () => {
  shop = await Shop.start();
  const r = await shop.run(["init", "--since", "1h"]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => shop.close());

const now = () => Math.floor(Date.now() / 1000);

test("the stack-trace detector catches node traces, errors with a file path and unexpected failures, and nothing else", () => {
  const trace = "TypeError: boom\n    at foo (/work/dist/src/x.js:10:5)\n    at async Command.parseAsync (node:internal/x:1:2)";
  assert.equal(stackTraceLines(trace).length, 2);
  assert.equal(stackTraceLines("Error: ENOENT at /work/dist/src/x.js:12").length, 1);
  assert.equal(stackTraceLines("/work/dist/src/cli.js:42").length, 1);
  assert.equal(stackTraceLines("paidup: unexpected failure: x").length, 1);
  assert.deepEqual(stackTraceLines("paidup: no ledger at /tmp/x/state/paidup.db\n  hint: run `paidup init` first\ncharges seen at 10:05"), []);
});

test("paidup with no command prints the help on stderr and exits 2", async () => {
  const r = await shop.run([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Usage: paidup/);
  assert.match(r.stderr, /reconcile/);
  for (const asked of [["--help"], ["help"], ["--version"]]) assert.equal((await shop.run(asked)).code, 0, asked.join(" "));
});

test("reconcile --since in the future is exit 2 and lists nothing", async () => {
  const listed = shop.stripe.requestCount();
  for (const since of ["2999-01-01", new Date(Date.now() + 3_600_000).toISOString()]) {
    const r = await shop.run(["reconcile", "--since", since]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--since .* is in the future/);
  }
  assert.equal(shop.stripe.requestCount(), listed, "Stripe was not asked");
});

test("every command with --json prints a JSON error object on stdout when it fails", async () => {
  const cases: [string[], Record<string, string | undefined>, number, RegExp][] = [
    [["reconcile", "--json"], { STRIPE_API_BASE: "http://127.0.0.1:1" }, 3, /Stripe unreachable/],
    [["reconcile", "--json", "--since", "2999-01-01"], {}, 2, /in the future/],
    // Without PAIDUP_DATABASE_URL on the postgres pass, so the missing SQLite file is the ledger asked for.
    [["status", "--json"], { PAIDUP_DB: `${shop.dir}/nope.db`, PAIDUP_DATABASE_URL: undefined }, 2, /no ledger at/],
    [["show", "ch_nope", "--json"], {}, 2, /neither the ledger nor Stripe knows ch_nope/],
    [["status", "--json", "--frobnicate"], {}, 2, /unknown option/],
  ];
  for (const [args, env, code, message] of cases) {
    const r = await shop.run(args, { env });
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { error: { message: string; hint: string | null; exitCode: number } };
    assert.deepEqual(Object.keys(out), ["error"]);
    assert.deepEqual(Object.keys(out.error), ["message", "hint", "exitCode"]);
    assert.match(out.error.message, message);
    assert.equal(out.error.exitCode, code);
  }
});

test("LOG_LEVEL is accepted in any case, and an unknown level is exit 2 before anything runs", async () => {
  shop.stripe.addCharge(paidCharge({ created: now() - 5 }));
  for (const level of ["WARN", "Info", "debug", "ERROR"]) {
    const r = await shop.run(["status", "--offline"], { env: { LOG_LEVEL: level } });
    assert.ok(r.code === 0 || r.code === 1, `${level}: ${r.stderr}`);
  }
  const info = await shop.run(["reconcile"], { env: { LOG_LEVEL: "Info" } });
  assert.match(info.stderr, / info pass finished/, "Info logs at info, it does not silence everything");
  const before = shop.ledgerSnapshot();
  const sent = shop.resend.sent.length;
  for (const level of ["bogus", "verbose"]) {
    const r = await shop.run(["reconcile"], { env: { LOG_LEVEL: level } });
    assert.equal(r.code, 2, level);
    assert.match(r.stderr, new RegExp(`LOG_LEVEL "${level}" is not a log level`));
  }
  assert.equal(shop.ledgerSnapshot(), before, "nothing changed");
  assert.equal(shop.resend.sent.length, sent, "nothing sent");
});

test("LOG_LEVEL from .env counts, like every other setting there", async () => {
  fs.writeFileSync(`${shop.dir}/.env`, "LOG_LEVEL=Bogus\n");
  try {
    const r = await shop.run(["status", "--offline"], { env: { LOG_LEVEL: undefined } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LOG_LEVEL "Bogus"/);
  } finally {
    fs.rmSync(`${shop.dir}/.env`);
  }
});

test("LOG_LEVEL=debug shows each Stripe page, each charge's decision and each Resend answer with its rate-limit headers, and no secret", async () => {
  const c = shop.stripe.addCharge(paidCharge({ created: now() - 3, billing_details: { email: "debug@example.com" } }));
  const r = await shop.run(["reconcile"], { env: { LOG_LEVEL: "debug" } });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.match(r.stderr, /debug stripe listed a page of charges .*count=\d+ hasMore=false/);
  assert.match(r.stderr, new RegExp(`debug charge decided charge=${c.id} status=succeeded kind=delivered emailId=`));
  assert.match(r.stderr, new RegExp(`debug resend answered key=paidup-${c.id} status=accepted emailId=\\S+ ratelimit-limit=\\d+ ratelimit-remaining=\\d+ ratelimit-reset=\\d+`));
  for (const secret of [STRIPE_KEY, RESEND_KEY, STRIPE_KEY.slice(-8)]) assert.ok(!r.stderr.includes(secret), "no secret in the debug log");
  const info = await shop.run(["reconcile"], { env: { LOG_LEVEL: "info" } });
  assert.doesNotMatch(info.stderr, / debug /, "none of it at info");
});
