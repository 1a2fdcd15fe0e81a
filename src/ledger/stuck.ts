import { STATE } from "../states";
import type { ChargeRow } from "./charges";
import type { DB } from "./open";
import { stmt } from "./statements";

/**
 * The one query behind `status`: rows a human (or a retry) must still act on. A `sending` row
 * counts only once its claim is older than stuckAfter, so a send in flight is not an alarm.
 */
export function stuckCharges(db: DB, sendingBefore: number): ChargeRow[] {
  return stmt(
    db,
    `SELECT * FROM charges WHERE state IN ('${STATE.retrying}', '${STATE.needsReview}')
       OR (state = '${STATE.sending}' AND state_since < ?) ORDER BY created, id`,
  ).all(sendingBefore) as ChargeRow[];
}
