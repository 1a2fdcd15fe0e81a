// License keys: how a key is made and found (keys.ts), the key a purchase's email carries
// (issue.ts), a key's status (status.ts), the offline certificates and the JWKS that verifies
// them (certificates.ts), and what /v1/licenses/* answers (answers.ts). Framework-free: http/
// turns answers into replies; the SQL they need stays in ledger/.
// May import: src/*.ts foundations, ledger/.
export {};
