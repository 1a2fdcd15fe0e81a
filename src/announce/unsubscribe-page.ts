import { shopNameFrom } from "../downloads/buyers-page";

// The page at GET /unsubscribe/<token>: one button in a plain form that works without
// JavaScript (a GET never unsubscribes: mail scanners follow links), and the page the POST
// answers with. Readable on a phone and with a screen reader, like the buyers' page.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

export type UnsubscribeView = "ask" | "done" | "not-found";

export function unsubscribePage(from: string, view: UnsubscribeView, email = "", action = ""): string {
  const shop = escapeHtml(shopNameFrom(from));
  const body =
    view === "ask"
      ? `<h1>Stop update emails from ${shop}?</h1>
<p>${escapeHtml(email)} will get no more announcements from ${shop}. Receipts and the downloads you bought are not affected.</p>
<form method="post" action="${escapeHtml(action)}">
  <input type="hidden" name="confirm" value="page">
  <button type="submit">Unsubscribe</button>
</form>`
      : view === "done"
        ? `<div class="notice" role="status"><h1>You are unsubscribed</h1>
<p>${escapeHtml(email)} will get no more announcements from ${shop}. Your purchases and downloads stay as they are.</p></div>`
        : `<h1>This unsubscribe link is not valid</h1><p>Use the link from the latest email, exactly as it is.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Unsubscribe: ${shop}</title>
<style>
  body { font: 1.05rem/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1a1a1a; background: #fafafa; }
  main { max-width: 32rem; margin: 0 auto; padding: 2rem 1.25rem; }
  h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
  button { margin-top: 1rem; width: 100%; font: inherit; font-weight: 600; padding: .75rem; border: 0; border-radius: .4rem; background: #1d4ed8; color: #fff; cursor: pointer; }
  button:focus { outline: 3px solid #1d4ed8; outline-offset: 2px; }
  .notice { margin: 1.25rem 0; padding: 1rem; border-left: 4px solid #15803d; background: #f0fdf4; }
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}
