import type { Params } from "../sql";

// The ledger's SQL is written once with `?` or `@name` parameters (better-sqlite3's forms);
// PostgreSQL numbers them: `$1`, `$2`… Statements are few and fixed, so translations are cached.

const cache = new Map<string, { text: string; names: string[] | null }>();

export function toPg(sql: string, params: Params | undefined): { text: string; values: unknown[] } {
  let t = cache.get(sql);
  if (!t) {
    if (/@[A-Za-z_]/.test(sql)) {
      const names: string[] = [];
      const text = sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
        let i = names.indexOf(name);
        if (i < 0) i = names.push(name) - 1;
        return `$${i + 1}`;
      });
      t = { text, names };
    } else {
      let n = 0;
      t = { text: sql.replace(/\?/g, () => `$${++n}`), names: null };
    }
    cache.set(sql, t);
  }
  if (params === undefined) return { text: t.text, values: [] };
  if (t.names) {
    const named = params as Readonly<Record<string, unknown>>;
    return { text: t.text, values: t.names.map((n) => whole(named[n])) };
  }
  return { text: t.text, values: (params as readonly unknown[]).map(whole) };
}

/**
 * Every number the ledger stores is a whole one (ms, seconds, counts, minor units), but an
 * injected clock may tick in fractions of a millisecond. SQLite keeps such a value as it is;
 * PostgreSQL's BIGINT refuses it. Flooring keeps `at <= now` comparisons as they were.
 */
function whole(v: unknown): unknown {
  return typeof v === "number" && !Number.isInteger(v) && Number.isFinite(v) ? Math.floor(v) : v;
}
