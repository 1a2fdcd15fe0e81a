import { FINAL_STATES, STATE } from "../states";
import type { ChargeRow } from "./charges";
import type { Sql } from "./sql";

/**
 * The one query behind `status`: rows a human (or a retry) must still act on. A `sending` row
 * counts only once its claim is older than stuckAfter, so a send in flight is not an alarm.
 */
export function stuckCharges(db: Sql, sendingBefore: number): Promise<ChargeRow[]> {
  return db.query<ChargeRow>(
    // The NOT IN term repeats the charges_open index's WHERE, so SQLite walks that index instead
    // of scanning the whole history (26 ms at 100k rows, 0.1 ms with it: bench/RESULTS.md).
    `SELECT * FROM charges WHERE state NOT IN (${FINAL_STATES.map((s) => `'${s}'`).join(", ")})
       AND (state IN ('${STATE.retrying}', '${STATE.needsReview}', '${STATE.bounced}')
         OR (state = '${STATE.sending}' AND state_since < ?)) ORDER BY created, id`,
    [sendingBefore],
  );
}
