// The HTTP side (`serve`, `daemon --serve`): one Fastify app (server.ts) with limits and
// timeouts shared by every route (limits.ts), and one plugin per route group: Stripe webhooks
// recorded once and handed to the pass's deliver path, health (and metrics), download links
// (downloads.ts), the buyers' page (buyers-page.ts, its work in buyer-request.ts); Resend
// webhooks go beside them; the license API (licenses.ts), limited per client by per-ip-limit.ts;
// leaving announcements (unsubscribe.ts, RFC 8058 one-click).
// May import: src/*.ts foundations, ledger/, stripe/, delivery/, downloads/, licenses/, announce/, pass/.
export { HttpServer } from "./server";
export type { HttpServerOptions } from "./server";
export { HTTP_LIMITS } from "./limits";
export type { HttpLimits } from "./limits";
