// Which bytes of a file a request gets, from its Range header (RFC 9110 §14). One range only:
// a multi-range request is answered with the whole file, which the RFC allows and every
// download manager handles; a malformed header is ignored the same way.

export type RangePlan =
  | { status: 200; start: 0; end: number; length: number }
  | { status: 206; start: number; end: number; length: number }
  | { status: 416 };

/** `end` is inclusive, as in Content-Range; `end` is -1 for an empty file served whole. */
export function planRange(size: number, range: string | undefined): RangePlan {
  const whole = { status: 200 as const, start: 0 as const, end: size - 1, length: size };
  if (range === undefined) return whole;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (!m || (m[1] === "" && m[2] === "")) return whole;
  const [first, last] = [m[1] as string, m[2] as string];
  let start: number;
  let end: number;
  if (first === "") {
    // "bytes=-500": the last 500 bytes.
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { status: 416 };
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return whole; // syntactically invalid: ignored
    if (start >= size) return { status: 416 };
  }
  return { status: 206, start, end, length: end - start + 1 };
}

/** `bytes 0-99/1000`, or `bytes *\/1000` for a 416. */
export function contentRange(plan: RangePlan, size: number): string {
  return plan.status === 416 ? `bytes */${size}` : `bytes ${plan.start}-${plan.end}/${size}`;
}

/**
 * RFC 6266 attachment header: a plain ASCII fallback name, and the exact UTF-8 name in
 * `filename*` so "Café — guide.pdf" arrives as itself.
 */
export function attachmentDisposition(filename: string): string {
  const fallback = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
