import Stripe from "stripe";
import { median, paidCharge, percentile, sleep, Workspace } from "./harness";

// Webhook latency: `paidup serve` as a subprocess, signed charge.succeeded events posted to it,
// latency measured from just before the POST to the moment the fake Resend recorded the send.

const SECRET = "whsec_bench_paidup_webhook_secret_00";
const signer = new Stripe("sk_test_signer_only");

export interface WebhookCase {
  label: string;
  events: number;
  /** 0: each POST right after the previous answer; else POSTs started this far apart. */
  gapMs: number;
  ackMedianMs: number;
  ackP99Ms: number;
  latencyMedianMs: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** First send to last send: with the pacer at 100/s this is at least (events - 1) × 10 ms. */
  sendSpanMs: number;
  stripeRequestsPerEvent: number;
  resendRequestsPerEvent: number;
}

export interface WebhookFigures {
  cases: WebhookCase[];
  serveRssMiB: number;
  serveCpuMs: number;
}

function eventBody(chargeId: string, n: number): string {
  return JSON.stringify({
    id: `evt_bench_${n}_${chargeId}`, object: "event", type: "charge.succeeded", api_version: "2025-01-01",
    created: Math.floor(Date.now() / 1000), data: { object: { id: chargeId, object: "charge" } }, livemode: false, pending_webhooks: 1,
  });
}

async function runCase(ws: Workspace, url: string, label: string, events: number, gapMs: number, first: number): Promise<WebhookCase> {
  const now = Math.floor(Date.now() / 1000);
  const ids = Array.from({ length: events }, (_, i) => ws.stripe.addCharge(paidCharge(first + i, now)).id);
  ws.stripe.resetCounters();
  ws.resend.resetCounters();
  const sentBefore = ws.resend.sent.length;
  const postedAt = new Map<string, number>();
  const acks: number[] = [];
  const start = Date.now();
  for (const [i, id] of ids.entries()) {
    if (gapMs > 0) await sleep(Math.max(0, start + i * gapMs - Date.now()));
    const body = eventBody(id, first + i);
    const header = signer.webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
    const t0 = Date.now();
    postedAt.set(id, t0);
    const res = await fetch(`${url}/webhooks/stripe`, { method: "POST", body, headers: { "content-type": "application/json", "stripe-signature": header } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
    acks.push(Date.now() - t0);
  }
  const deadline = Date.now() + events * 20 + 30_000;
  while (ws.resend.sent.length - sentBefore < events) {
    if (Date.now() > deadline) throw new Error(`only ${ws.resend.sent.length - sentBefore} of ${events} webhook sends arrived`);
    await sleep(20);
  }
  const sentAt = new Map(ws.resend.sent.slice(sentBefore).map((s) => [s.idempotencyKey?.replace(/^paidup-/, "") ?? "", s.at]));
  const latencies = ids.map((id) => (sentAt.get(id) ?? NaN) - (postedAt.get(id) ?? NaN));
  if (latencies.some((l) => !Number.isFinite(l))) throw new Error("a webhook send went to an unexpected charge");
  const times = [...sentAt.values()];
  return {
    label, events, gapMs,
    ackMedianMs: median(acks),
    ackP99Ms: percentile(acks, 99),
    latencyMedianMs: median(latencies),
    latencyP99Ms: percentile(latencies, 99),
    latencyMaxMs: Math.max(...latencies),
    sendSpanMs: Math.max(...times) - Math.min(...times),
    stripeRequestsPerEvent: ws.stripe.requestCount() / events,
    resendRequestsPerEvent: ws.resend.requestCount() / events,
  };
}

/** One `serve` process takes a burst, then events at a low rate; its peak RSS covers both. */
export async function webhookLatency(burst: number, lowRate: number, gapMs: number): Promise<WebhookFigures> {
  const ws = await Workspace.start("webhooks");
  try {
    await ws.runOk(["init", "--since", "1h"]);
    const serve = ws.spawnMeasured(["serve", "--port", "0"], { env: { STRIPE_WEBHOOK_SECRET: SECRET } });
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      serve.child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      void serve.done.then((m) => reject(new Error(`serve exited ${m.code}: ${m.stderr}`)));
    });
    const cases: WebhookCase[] = [];
    try {
      cases.push(await runCase(ws, url, "burst (posted back to back)", burst, 0, 0));
      await sleep(500);
      cases.push(await runCase(ws, url, `low rate (one every ${gapMs} ms)`, lowRate, gapMs, burst));
    } finally {
      serve.child.kill("SIGTERM");
    }
    const m = await serve.done;
    return { cases, serveRssMiB: m.rssMiB, serveCpuMs: m.userMs + m.sysMs };
  } finally {
    await ws.close();
  }
}
