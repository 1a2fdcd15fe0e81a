import { UsageError } from "./errors";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m" → 1_800_000. Throws a UsageError naming `what` for anything else. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (!m) throw new UsageError(`${what}: "${text}" is not a duration (use e.g. 30m, 12h, 7d)`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/**
 * `<when>`: an ISO date/time or a duration back from `nowMs`. Returns epoch ms. A moment in the
 * future is refused: as a listing window it would list nothing and "succeed", as a start line it
 * would hide every charge until then.
 */
export function parseWhen(text: string, nowMs: number, what: string): number {
  const ms = parseMoment(text, nowMs, what);
  if (ms > nowMs) throw new UsageError(`${what} ${text} is in the future`, "give a moment in the past: an ISO date/time or a duration back from now such as 7d");
  return ms;
}

function parseMoment(text: string, nowMs: number, what: string): number {
  if (/^\d+\s*[smhd]$/.test(text.trim())) return nowMs - parseDuration(text, what);
  // A bare date means midnight UTC, not the machine's local midnight.
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const ms = Date.parse(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) {
    throw new UsageError(`${what}: "${text}" is neither an ISO date/time nor a duration like 7d`);
  }
  return ms;
}

/** Stripe's `created` has one-second resolution, so start lines are whole seconds. */
export function toUnixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

export function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function isoMs(ms: number): string {
  return isoSeconds(Math.floor(ms / 1000));
}
