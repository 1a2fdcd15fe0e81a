// Delivery: what a buyer receives and how it reaches Resend (catalog and product matching, the
// recipient, templates, the payload, the mailer, its pacer, the classified send result).
// No ledger here: whether a send may happen is decided by the pass.
// May import: src/*.ts foundations, stripe/.
export {};
