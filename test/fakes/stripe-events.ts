// Refund and dispute events Stripe records, for the fake Stripe: what paidup
// polls (`events.list`) when no webhook reaches it, and what `evidence --attach` writes to.
import { randomBytes } from "node:crypto";
import { ApiError, invalid, missing, parseLimit, slicePage, type Obj } from "./stripe-lists";

const randomId = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

export interface FakeEvent extends Obj {
  id: string;
  object: "event";
  type: string;
  created: number;
  data: { object: Obj };
}

export class StripeEventLog {
  /** Newest first, as Stripe lists them. */
  readonly events: FakeEvent[] = [];
  /** Every disputes.update body received, in order. */
  readonly disputeUpdates: { id: string; body: Record<string, string> }[] = [];

  add(type: string, object: Obj, created: number): FakeEvent {
    const event: FakeEvent = { id: randomId("evt"), object: "event", type, created, livemode: false, api_version: "fake", data: { object } };
    this.events.unshift(event);
    this.events.sort((a, b) => b.created - a.created);
    return event;
  }

  /** GET /v1/events: `type`, `types[]` and `created[...]` filters, newest first, paged. */
  list(q: URLSearchParams): Obj {
    const types = [...q.entries()].filter(([k]) => /^types(\[\d*\])?$/.test(k)).map(([, v]) => v);
    const type = q.get("type");
    const bound = (name: string) => (q.get(name) === null ? undefined : Number(q.get(name)));
    const gte = bound("created[gte]") ?? -Infinity, gt = bound("created[gt]") ?? -Infinity;
    const lte = bound("created[lte]") ?? Infinity, lt = bound("created[lt]") ?? Infinity;
    const keep = (e: FakeEvent) =>
      (types.length === 0 || types.includes(e.type)) && (type === null || e.type === type) &&
      e.created >= gte && e.created > gt && e.created <= lte && e.created < lt;
    const cursor = (param: string) => {
      const id = q.get(param);
      if (id === null) return undefined;
      const index = this.events.findIndex((e) => e.id === id);
      if (index < 0) throw missing(400, "event", id, param);
      return index;
    };
    const page = slicePage(this.events, 0, this.events.length, keep, cursor("starting_after"), cursor("ending_before"), parseLimit(q));
    return { object: "list", url: "/v1/events", has_more: page.hasMore, data: page.items };
  }

  /** POST /v1/disputes/:id with a form body (`evidence[access_activity_log]=…`, `submit=false`). */
  updateDispute(dispute: Obj, body: Record<string, string>): Obj {
    const id = String(dispute.id);
    if (!["needs_response", "warning_needs_response"].includes(String(dispute.status))) {
      throw invalid(`This dispute is already closed or under review (status ${String(dispute.status)}).`);
    }
    this.disputeUpdates.push({ id, body });
    const evidence = { ...(dispute.evidence as Obj) };
    for (const [k, v] of Object.entries(body)) {
      const m = /^evidence\[([a-z_]+)\]$/.exec(k);
      if (m) evidence[m[1] as string] = v;
    }
    dispute.evidence = evidence;
    return dispute;
  }
}

/** Stripe's answer to a restricted key without write access to an endpoint. */
export function permissionError(key: string, permission = "rak_dispute_write"): ApiError {
  return new ApiError(403, {
    type: "invalid_request_error",
    message: `The provided key '${key.slice(0, 8)}***${key.slice(-4)}' does not have the required permissions for this endpoint on account 'acct_fake'. Having the '${permission}' permission would allow this request to continue.`,
  });
}
