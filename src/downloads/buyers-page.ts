// The buyers' page at /downloads: one form, plain HTML that works without JavaScript, readable on
// a phone and with a screen reader. The answer to a POST is one fixed page whatever the address,
// so neither its content nor its length tells anyone who bought.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** "Shop <shop@example.com>" → "Shop"; a bare address → its domain. */
export function shopNameFrom(from: string): string {
  const named = /^\s*"?([^"<>]*?)"?\s*<[^<>]+>\s*$/.exec(from);
  if (named?.[1]) return named[1];
  const domain = /@([^\s>]+)/.exec(from)?.[1];
  return domain ?? from;
}

export function buyersPage(shopName: string, opts: { submitted: boolean }): string {
  const shop = escapeHtml(shopName);
  const notice = opts.submitted
    ? `<div class="notice" role="status">
  <h2>Check your inbox</h2>
  <p>If this address has purchases with downloads, an email with fresh download links is on its way.
  It can take a few minutes; look in your spam folder too. One email per address every 15 minutes.</p>
</div>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Your downloads: ${shop}</title>
<style>
  body { font: 1.05rem/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1a1a1a; background: #fafafa; }
  main { max-width: 32rem; margin: 0 auto; padding: 2rem 1.25rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
  h2 { font-size: 1.15rem; margin: 0 0 .25rem; }
  label { display: block; font-weight: 600; margin: 1.25rem 0 .35rem; }
  input[type=email] { box-sizing: border-box; width: 100%; font: inherit; padding: .7rem .8rem; border: 2px solid #767676; border-radius: .4rem; background: #fff; }
  input[type=email]:focus, button:focus { outline: 3px solid #1d4ed8; outline-offset: 2px; }
  button { margin-top: 1rem; width: 100%; font: inherit; font-weight: 600; padding: .75rem; border: 0; border-radius: .4rem; background: #1d4ed8; color: #fff; cursor: pointer; }
  .notice { margin: 1.25rem 0; padding: 1rem; border-left: 4px solid #15803d; background: #f0fdf4; }
  .small { color: #4a4a4a; font-size: .95rem; }
</style>
</head>
<body>
<main>
<h1>${shop}: your downloads</h1>
<p>Bought something from ${shop}? Enter the email address you used at checkout and we will email you fresh download links.</p>
${notice}
<form method="post" action="/downloads">
  <label for="email">Email address</label>
  <input id="email" name="email" type="email" autocomplete="email" inputmode="email" required maxlength="254">
  <button type="submit">Email me my links</button>
</form>
<p class="small">Links in the email expire after a while; you can come back here for new ones.</p>
</main>
</body>
</html>
`;
}
