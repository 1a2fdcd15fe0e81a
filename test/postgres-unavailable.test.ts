import assert from "node:assert/strict";
import { test } from "node:test";
import { DatabaseUnavailable, EXIT, RuntimeFailure } from "../src/errors";
import { asPgLedgerError, isPgUnavailable } from "../src/ledger/postgres/errors";

// Which PostgreSQL failures mean "the database is unavailable for now" (FACTS.md, node-postgres):
// each is exit 3 with a one-line reason, and the daemon and `serve` wait it out. The real server's
// codes are seen in test/postgres-restart.test.ts; here every code the contract names, each once.

const WHERE = "postgres://paidup@db.example.com:5432/shop";
const pgError = (code: string | undefined, message: string) => Object.assign(new Error(message), code === undefined ? {} : { code });

const unavailable: [string | undefined, string][] = [
  ["57P01", "terminating connection due to administrator command"],
  ["57P02", "terminating connection because of crash of another server process"],
  ["57P03", "the database system is starting up"],
  ["08006", "connection failure"],
  ["08003", "connection does not exist"],
  ["53300", "sorry, too many clients already"],
  ["ECONNRESET", "read ECONNRESET"],
  ["ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"],
  [undefined, "Connection terminated unexpectedly"],
  [undefined, "Client has encountered a connection error and is not queryable"],
];

for (const [code, message] of unavailable) {
  test(`${code ?? "no code"}: ${message} → database unavailable, exit 3, one line`, () => {
    const err = pgError(code, message);
    assert.equal(isPgUnavailable(err), true);
    const mapped = asPgLedgerError(err, WHERE);
    assert.ok(mapped instanceof DatabaseUnavailable, mapped.message);
    assert.equal((mapped as RuntimeFailure).exitCode, EXIT.runtime);
    assert.doesNotMatch(mapped.message, /\n/);
    assert.ok(mapped.message.includes(WHERE));
  });
}

test("a constraint violation, a syntax error or a lock timeout is not 'unavailable'", () => {
  for (const [code, message] of [["23505", "duplicate key value violates unique constraint"], ["42601", "syntax error"], ["55P03", "canceling statement due to lock timeout"]] as const) {
    assert.equal(isPgUnavailable(pgError(code, message)), false, code);
    assert.ok(!(asPgLedgerError(pgError(code, message), WHERE) instanceof DatabaseUnavailable), code);
  }
});
