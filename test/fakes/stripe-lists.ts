// Stripe's list semantics and error bodies, shared by the fake's endpoints.

export type Obj = Record<string, unknown>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Obj,
  ) {
    super(String(body.message));
  }
}

export const invalid = (message: string, extra: Obj = {}) =>
  new ApiError(400, { type: "invalid_request_error", message, ...extra });
export const missing = (status: number, kind: string, id: string, param?: string) =>
  new ApiError(status, {
    type: "invalid_request_error",
    code: "resource_missing",
    message: `No such ${kind}: '${id}'`,
    ...(param ? { param } : {}),
  });

/** The SDK sends `expand[0]=…` (indexed); curl users send `expand[]=…`. Accept both. */
export function expansions(q: URLSearchParams): string[] {
  return [...q.entries()].filter(([k]) => /^expand(\[\d*\])?$/.test(k)).map(([, v]) => v);
}

export function checkExpand(expand: string[], allowed: string[]): void {
  const bad = expand.find((e) => !allowed.includes(e));
  if (bad !== undefined) throw invalid(`This property cannot be expanded (${bad}).`, { param: "expand" });
}

export function parseLimit(q: URLSearchParams): number {
  const raw = q.get("limit");
  if (raw === null) return 10;
  if (!/^-?\d+$/.test(raw)) throw invalid(`Invalid integer: ${raw}`, { param: "limit" });
  const limit = Number(raw);
  if (limit < 1 || limit > 100) throw invalid("Invalid limit: must be between 1 and 100", { param: "limit" });
  return limit;
}

/**
 * One page of items[lo, hi) that pass `keep`, in list order. Like Stripe: starting_after
 * gives the items after the cursor; ending_before gives the `limit` items just before it
 * (still in list order), and has_more says whether more lie beyond in that direction.
 */
export function slicePage<T>(items: T[], lo: number, hi: number, keep: (t: T) => boolean,
  after: number | undefined, beforeIdx: number | undefined, limit: number): { items: T[]; hasMore: boolean } {
  const out: T[] = [];
  if (beforeIdx !== undefined && after === undefined) {
    for (let i = Math.min(beforeIdx, hi) - 1; i >= lo && out.length <= limit; i--) {
      const item = items[i] as T;
      if (keep(item)) out.push(item);
    }
    const hasMore = out.length > limit;
    return { items: out.slice(0, limit).reverse(), hasMore };
  }
  for (let i = Math.max(lo, after === undefined ? 0 : after + 1); i < hi && out.length <= limit; i++) {
    const item = items[i] as T;
    if (keep(item)) out.push(item);
  }
  return { items: out.slice(0, limit), hasMore: out.length > limit };
}

/** Pagination for the small lists (sessions, line items), by id cursor. */
export function paginate(items: Obj[], q: URLSearchParams, url: string, expand: string[]): Obj {
  checkExpand(expand, []);
  const limit = parseLimit(q);
  const cursor = (param: string) => {
    const id = q.get(param);
    if (id === null) return undefined;
    const index = items.findIndex((i) => i.id === id);
    if (index < 0) throw missing(400, "object", id, param);
    return index;
  };
  const page = slicePage(items, 0, items.length, () => true, cursor("starting_after"), cursor("ending_before"), limit);
  return { object: "list", url, has_more: page.hasMore, data: page.items };
}
