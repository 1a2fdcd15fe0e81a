// The pass: one reconcile over observed state (reconcile, deliver, eligibility), its report,
// health record, alerts and `status`, and the daemon's schedule that decides when a pass runs.
// The promise lives in deliver.ts: claim (transaction) → send outside any transaction → commit;
// send-pool.ts runs several such deliveries at once, never two of one charge.
// After delivery: refunds and disputes noticed (after-delivery.ts), `resend` (resend-charge.ts)
// and the proof for a dispute (evidence.ts), all on the same ledger and mailer.
// May import: src/*.ts foundations, ledger/, stripe/, delivery/, downloads/, alerts/.
export {};
