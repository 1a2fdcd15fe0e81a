// Announcements to past buyers (`paidup announce`): who hears (audience.ts), what an
// announcement is and how it is named (identity.ts), its templates and the email each buyer
// gets (templates.ts, emails.ts), the signed unsubscribe tokens (unsubscribe-token.ts), the
// recorded batches (batches.ts) and the run that claims, sends and commits them (run.ts).
// The ledger operations they use stay in ledger/; the HTTP routes in http/unsubscribe.ts.
// May import: src/*.ts foundations, ledger/, delivery/, downloads/.
export {};
