import type Stripe from "stripe";
import { ChargeOutcome, deliverCharge, hasDueWork } from "./deliver";
import { isoSeconds } from "../duration";
import type { ChargeRow } from "../ledger";
import type { PassDeps } from "./pass-deps";
import { SKIP_REASON } from "./eligibility";
import { listingStart, relistWindow } from "./listing-window";
import { SendPool } from "./send-pool";
import { StuckEntry, stuckEntry } from "./report";
import { STATE } from "../states";

export interface PassCounts {
  seen: number;
  delivered: number;
  alreadyDelivered: number;
  retrying: number;
  needsReview: number;
  skipped: number;
  awaitingPayment: number;
  /** Held by another process at the moment we looked: that process reports it. */
  inFlightElsewhere: number;
}

export interface PassPlanItem {
  charge: string;
  action: string;
}

export interface PassReport {
  counts: PassCounts;
  undelivered: StuckEntry[];
  /** Under --dry-run: what the pass would have done, one line per charge it would touch. */
  plan: PassPlanItem[];
  /** False when a stop was requested before the listing was walked to the end. */
  complete: boolean;
  startedAt: number;
  finishedAt: number;
}

export interface PassOptions {
  /** Unix seconds: widen this pass's listing back to here (never before the start line). */
  since?: number;
  dryRun?: boolean;
  onProgress?: (counts: PassCounts) => void;
}

export function emptyCounts(): PassCounts {
  return { seen: 0, delivered: 0, alreadyDelivered: 0, retrying: 0, needsReview: 0, skipped: 0, awaitingPayment: 0, inFlightElsewhere: 0 };
}

/** One pass over observed state: list, compare, deliver, commit, report. */
export async function reconcileOnce(deps: PassDeps, opts: PassOptions = {}): Promise<PassReport> {
  try {
    return await walk(deps, opts);
  } catch (err) {
    // A ledger locked past busy_timeout (or gone bad) mid-pass is exit 3 with a reason, not an
    // "unexpected failure" stack: nothing unconfirmed was committed, the next pass picks up.
    throw deps.ledger.asLedgerError(err);
  }
}

async function walk(deps: PassDeps, opts: PassOptions): Promise<PassReport> {
  const { ledger, clock } = deps;
  const startedAt = clock.now();
  const startLine = Number(await ledger.getMeta("start_line"));
  const watermark = Number((await ledger.getMeta("watermark")) ?? startLine);
  const listFrom = listingStart({ startLine, watermark, since: opts.since });
  const report: PassReport = { counts: emptyCounts(), undelivered: [], plan: [], complete: false, startedAt, finishedAt: startedAt };
  const stopped = () => deps.signal?.aborted === true;

  const take = async (charge: Stripe.Charge) => {
    const outcome = await deliverCharge(deps, charge, startLine, opts.dryRun);
    // For someone chasing a problem (LOG_LEVEL=debug): what the pass decided for each charge, and why.
    deps.log.debug("charge decided", { charge: charge.id, status: charge.status, ...outcome });
    await tally(deps, report, charge, outcome, opts.dryRun === true);
    opts.onProgress?.(report.counts);
  };
  const lookAgain = async (id: string) => {
    const charge = await deps.stripe.retrieveCharge(id);
    if (charge) await take(charge);
  };
  // Sends overlap so that Resend's latency does not cap the rate; a dry run keeps the listing's order.
  const pool = new SendPool(() => (opts.dryRun || !deps.mailer ? 1 : deps.mailer.inFlightTarget));
  /** Walks one listing to its end; false if a stop request cut it short. */
  const walkAll = async (listing: AsyncIterable<Stripe.Charge>) => {
    for await (const charge of listing) {
      if (stopped()) return false;
      await pool.add(charge.id, () => take(charge));
    }
    return !stopped();
  };

  let walked: boolean;
  // Where the recent walk reached on Stripe's clock: the Date of its first page, else its newest charge.
  let reach: number | null;
  let relisted = false;
  // Ignore rules reach charges not yet delivered when the rule is added: every open row is looked
  // at once under the new rules (one retrieve each), then only as before.
  // The rules are remembered even when emptied, so rules put back later still reach rows made meanwhile.
  const ignoreRules = JSON.stringify(deps.config.ignore);
  const rulesChanged = (await ledger.getMeta("ignore_rules") ?? "[]") !== ignoreRules;
  const lookAtOpenRows = rulesChanged && deps.config.ignore.length > 0;
  try {
    // Charges older than the listing window that still need a look: pending debits, due
    // retries, dead claims, a product file the operator has since staged.
    for (const row of await ledger.openCharges()) {
      if (stopped()) break;
      if (row.created >= listFrom || !(lookAtOpenRows || needsFreshLook(row, clock.now()))) continue;
      await pool.add(row.id, () => lookAgain(row.id));
    }

    const recent = deps.stripe.listCharges({ gte: listFrom });
    walked = await walkAll(recent);
    reach = recent.reach;
    const lastRelist = await ledger.getMeta("relisted_at");
    const relist = walked && reach !== null ? relistWindow({ startLine, listFrom, stripeNow: reach, lastRelist: lastRelist === undefined ? null : Number(lastRelist) }) : null;
    if (relist) {
      // The slow deep re-list: a charge Stripe listed after the passes moved past its second.
      if (relist.gte < relist.lt) walked = await walkAll(deps.stripe.listCharges(relist));
      relisted = walked;
      // Disputes are decided weeks later: a charge skipped for an open dispute is looked at again.
      for (const row of await ledger.skippedWith(SKIP_REASON.disputed)) {
        if (stopped()) break;
        if (row.created >= relist.gte) continue; // just walked
        await pool.add(row.id, () => lookAgain(row.id));
      }
    }
  } catch (err) {
    // Every claim this pass made ends committed (or released) before the pass reports its failure.
    await pool.settle();
    throw err;
  }
  await pool.drain();
  report.complete = walked && !stopped();
  if (report.complete && !opts.dryRun && reach !== null) {
    if (relisted) await ledger.setMeta("relisted_at", String(reach));
    if (rulesChanged) await ledger.setMeta("ignore_rules", ignoreRules);
    // The watermark moves only after the whole window was walked, and only forward: every charge
    // below it has a row.
    if (reach > watermark) await ledger.setMeta("watermark", String(reach));
  }
  report.finishedAt = clock.now();
  return report;
}

function needsFreshLook(row: ChargeRow, now: number): boolean {
  switch (row.state) {
    case STATE.awaitingPayment:
      return true;
    case STATE.retrying:
    case STATE.sending:
    case STATE.needsReview:
      return hasDueWork(row, now);
    default:
      return false;
  }
}

async function tally(deps: PassDeps, report: PassReport, charge: Stripe.Charge, outcome: ChargeOutcome, dryRun: boolean): Promise<void> {
  const c = report.counts;
  c.seen++;
  switch (outcome.kind) {
    case "delivered":
      c.delivered++;
      return;
    case "already_delivered":
      c.alreadyDelivered++;
      return;
    case "busy":
    case "stopped":
      c.inFlightElsewhere += outcome.kind === "busy" ? 1 : 0;
      return;
    case "would_deliver":
      c.delivered++;
      report.plan.push({ charge: charge.id, action: `would deliver ${outcome.product} to ${outcome.email}` });
      return;
    case "left":
      break;
  }
  const { state, reason } = outcome;
  if (state === STATE.skipped) c.skipped++;
  else if (state === STATE.awaitingPayment) c.awaitingPayment++;
  else if (state === STATE.retrying) c.retrying++;
  else if (state === STATE.needsReview) c.needsReview++;
  if (dryRun && state !== STATE.skipped) report.plan.push({ charge: charge.id, action: `would leave it ${state}: ${reason ?? ""}` });
  if (state !== STATE.retrying && state !== STATE.needsReview) return;
  const row = await deps.ledger.getCharge(charge.id);
  report.undelivered.push(
    row && !dryRun
      ? stuckEntry(row)
      : { charge: charge.id, state, reason, attempts: row?.attempts ?? 0, amount: charge.amount, currency: charge.currency, email: row?.email ?? null, product: row?.product ?? null, created: isoSeconds(charge.created) },
  );
}
