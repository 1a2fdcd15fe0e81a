// Download links: signed tokens (token.ts), which bytes a request gets (range.ts), the file
// streamed from one descriptor (file-stream.ts), what GET|HEAD /d/<token> answers in the
// contract's order (answer.ts), the links a rendering stores (links.ts), the buyers' page HTML
// and `check`'s file test. Framework-free: http/ turns answers into replies.
// May import: src/*.ts foundations, ledger/.
export {};
