// The HTTP side (`serve`): Stripe webhooks recorded once and handed to the pass's deliver path,
// health, download links (downloads.ts) and the buyers' page (buyers-page.ts, buyer-request.ts).
// May import: src/*.ts foundations, ledger/, stripe/, delivery/, downloads/, pass/.
export {};
