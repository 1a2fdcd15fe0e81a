import { loadEnv } from "../config";
import { isoSeconds, parseWhen, toUnixSeconds } from "../duration";
import { createLedgerFile, getMeta, setMeta } from "../ledger";
import { keyMode } from "../stripe/stripe-source";

export interface InitResult {
  lines: string[];
}

/**
 * Creates the ledger and its start line. On an existing ledger, `--since` may only move the
 * start line earlier (taking in a backlog on purpose); it never hides charges by moving it later.
 */
export function initCommand(opts: { since?: string }, now: number): InitResult {
  const env = loadEnv();
  const requested = opts.since === undefined ? undefined : toUnixSeconds(parseWhen(opts.since, now, "--since"));
  const { db, created } = createLedgerFile(env.dbPath);
  try {
    return db.transaction((): InitResult => {
      if (env.stripeSecretKey && getMeta(db, "mode") === undefined) setMeta(db, "mode", keyMode(env.stripeSecretKey));
      if (created) {
        const startLine = requested ?? toUnixSeconds(now);
        setMeta(db, "start_line", String(startLine));
        setMeta(db, "watermark", String(startLine));
        return { lines: [`ledger created at ${env.dbPath}`, `start line: ${isoSeconds(startLine)} (charges created earlier are never delivered)`] };
      }
      const current = Number(getMeta(db, "start_line"));
      if (requested === undefined || requested >= current) {
        const note = requested === undefined ? "" : ` (--since ${isoSeconds(requested)} is not earlier; the start line never moves later)`;
        return { lines: [`ledger exists at ${env.dbPath}; nothing changed`, `start line: ${isoSeconds(current)}${note}`] };
      }
      setMeta(db, "start_line", String(requested));
      // Pull the listing back too, so the next pass walks the backlog just taken in.
      setMeta(db, "watermark", String(Math.min(requested, Number(getMeta(db, "watermark") ?? requested))));
      return { lines: [`start line moved earlier: ${isoSeconds(current)} → ${isoSeconds(requested)}`, "the next pass takes in the charges created in between"] };
    })();
  } finally {
    db.close();
  }
}
