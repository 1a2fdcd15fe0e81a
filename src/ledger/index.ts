// The ledger: every charge a pass has seen, its state, and an append-only attempt history.
// All SQL lives in this folder; callers use these named functions.
export * from "./charges";
export * from "./claims";
export * from "./events";
export * from "./meta";
export * from "./sqlite/open";
export * from "./stuck";
