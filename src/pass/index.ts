// The pass: one reconcile over observed state (reconcile, deliver, eligibility), its report,
// health record, alerts and `status`, and the daemon's schedule that decides when a pass runs.
// The promise lives in deliver.ts: claim (transaction) → send outside any transaction → commit;
// send-pool.ts runs several such deliveries at once, never two of one charge.
// May import: src/*.ts foundations, ledger/, stripe/, delivery/.
export {};
