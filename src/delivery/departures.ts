import diagnosticsChannel from "node:diagnostics_channel";

/**
 * When a send really leaves: Node's fetch (undici) publishes `undici:client:sendHeaders` as it
 * writes a request's headers to the socket. A request's turn and that moment can be hundreds of
 * milliseconds apart in a process's first second (fetch loading, start-up work holding the event
 * loop), and Resend counts a request from its arrival. Sends are told apart by their
 * `Idempotency-Key` (one request of a key is in flight at a time). Where a Node does not publish
 * the channel, nothing is heard and the pacer keeps the turn's time.
 */
const CHANNEL = "undici:client:sendHeaders";
const KEY = /(?:^|\r\n)idempotency-key:[ \t]*([^\r\n]*)/i;

const waiting = new Map<string, () => void>();
let subscribed = false;

function headersOf(message: unknown): string {
  const m = message as { headers?: unknown; request?: { headers?: unknown } } | null;
  const raw = m?.headers ?? m?.request?.headers;
  if (typeof raw === "string") return raw;
  // Some undici versions keep the headers as a flat [name, value, name, value, …] list.
  if (Array.isArray(raw)) return raw.reduce<string>((out, v, i) => out + (i % 2 === 0 ? `${String(v)}: ` : `${String(v)}\r\n`), "");
  return "";
}

function heard(message: unknown): void {
  const key = KEY.exec(headersOf(message))?.[1]?.trim();
  if (key !== undefined) waiting.get(key)?.();
}

/** Calls `left` when the request carrying idempotency key `key` is written; `stop` when it is done. */
export function onDeparture(key: string, left: () => void): { stop: () => void } {
  if (!subscribed) {
    diagnosticsChannel.subscribe(CHANNEL, heard);
    subscribed = true;
  }
  waiting.set(key, left);
  return { stop: () => void (waiting.get(key) === left && waiting.delete(key)) };
}
