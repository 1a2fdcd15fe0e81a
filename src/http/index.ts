// The HTTP side (`serve`): Stripe webhooks recorded once and handed to the pass's deliver path,
// health. May import: src/*.ts foundations, ledger/, stripe/, delivery/, pass/.
export {};
