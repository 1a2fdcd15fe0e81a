// Stripe: the one adapter that reads charges, sessions, invoices, subscriptions and events from Stripe's API, and
// classifies its failures (retryable or terminal) at this edge.
// May import: src/*.ts foundations only.
export {};
