import { isoMs } from "../duration";
import { ChargeRow, IDEMPOTENCY_WINDOW_MS, LEASE_MS, UNKNOWN_OUTCOME_REASON } from "../ledger";
import { CHANGED_FILE } from "../delivery/payload";
import { STATE } from "../states";

// What actually gets a stuck charge unstuck, said in the alert that names it. An alert is sent
// once per stuck episode, so its advice must hold for the whole episode: what happens on its
// own, and what the owner has to do if it does not.

const resolveHint = (id: string) => `paidup resolve ${id} --note "…"`;

/** The owner's next step for one stuck row; `maxAttempts` from the config's retry policy. */
export function howToFix(row: ChargeRow, maxAttempts: number, now: number): string {
  const id = row.id;
  if (row.state === STATE.sending) {
    return `nothing yet: if the process sending it died, a pass after its ${LEASE_MS / 60_000}-minute claim re-sends it with the same idempotency key (no second email); if it stays here: paidup show ${id}`;
  }
  if (row.state === STATE.retrying) {
    return `nothing yet: paidup retries it on its own, up to ${maxAttempts} attempts; if they all fail it waits in needs_review for you (no further alert), and \`paidup status\` lists it; to look: paidup show ${id}`;
  }
  if (row.state === STATE.bounced) {
    return `check the address${row.email ? ` (${row.email})` : ""} with the buyer, then: paidup resend ${id} --to <address>  (or, if they have it another way: ${resolveHint(id)})`;
  }
  const windowEnds = row.first_sent_at === null ? null : isoMs(row.first_sent_at + IDEMPOTENCY_WINDOW_MS);
  if ((row.reason ?? "").includes(CHANGED_FILE)) {
    if (row.outcome_unknown !== 1) return `paidup retry ${id} sends the current file (no earlier send reached the buyer); or, if sent by hand: ${resolveHint(id)}`;
    return [
      `an earlier send may have reached the buyer. Put the original file back (the bytes of the first send) before ${windowEnds}, then paidup retry ${id}: Resend recognises the repeat.`,
      `If the buyer has it: ${resolveHint(id)}. After ${windowEnds}, paidup retry ${id} sends the current file, which is a second email if the first did arrive.`,
    ].join("\n       ");
  }
  if ((row.reason ?? "").startsWith(UNKNOWN_OUTCOME_REASON) || row.outcome_unknown === 1) {
    const when = row.first_sent_at === null || row.first_sent_at + IDEMPOTENCY_WINDOW_MS <= now
      ? "Resend's 24 h idempotency window is over"
      : `Resend recognises a repeat only until ${windowEnds}`;
    return [
      `the email may have reached the buyer. If they have it: ${resolveHint(id)}.`,
      `Otherwise paidup retry ${id} sends it again; ${when}, so that can be a second email if the first did arrive.`,
    ].join("\n       ");
  }
  if (row.blocked_on_file) {
    return `put ${row.blocked_on_file} back (readable, within Resend's 40 MB): the next pass sends it on its own; or, if sent by hand: ${resolveHint(id)}`;
  }
  return `fix the cause, then: paidup retry ${id}  (or, if sent by hand: ${resolveHint(id)})`;
}
