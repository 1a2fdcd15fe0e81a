import crypto from "node:crypto";

/** Signs a body the way Resend's webhooks do (Svix): v1,<base64 HMAC-SHA256 of "<id>.<ts>.<body>">. */
export function svixHeaders(body: string, secret: string, opts: { id?: string; timestamp?: number } = {}): Record<string, string> {
  const id = opts.id ?? `msg_${crypto.randomBytes(8).toString("hex")}`;
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const sig = crypto.createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
  return { "svix-id": id, "svix-timestamp": ts, "svix-signature": `v1,${sig}`, "content-type": "application/json" };
}

export function resendEvent(type: string, emailId: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ type, created_at: new Date().toISOString(), data: { email_id: emailId, from: "Shop <shop@example.com>", to: ["buyer@example.com"], subject: "Your pack", ...extra } });
}
