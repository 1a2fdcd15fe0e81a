import { loadEnv, requireStripeKey } from "../config";
import { isoSeconds, parseWhen, toUnixSeconds } from "../duration";
import { PaidupError, UsageError } from "../errors";
import { createLedger } from "../ledger";
import { keyMode, StripeSource, stripeClient } from "../stripe/stripe-source";
import { newLinkKey } from "../downloads/token";

export interface InitResult {
  lines: string[];
}

/** A start line further back than this takes in a backlog big enough to confirm with --yes. */
const CONFIRM_BEFORE_S = 365 * 86_400;

/**
 * Creates the ledger and its start line. On an existing ledger, `--since` may only move the
 * start line earlier (taking in a backlog on purpose); it never hides charges by moving it later.
 * Nothing is created or changed when a check fails: the key, the path, an unconfirmed backlog.
 */
export async function initCommand(opts: { since?: string; yes?: boolean }, now: number): Promise<InitResult> {
  const env = loadEnv();
  // The ledger records the key's mode, and refuses the other mode later: no key, no ledger.
  const stripeKey = requireStripeKey(env);
  const requested = opts.since === undefined ? undefined : toUnixSeconds(parseWhen(opts.since, now, "--since"));
  const backlog = requested !== undefined && requested < toUnixSeconds(now) - CONFIRM_BEFORE_S
    ? await confirmBacklog(new StripeSource(stripeClient(stripeKey, env.stripeApiBase)), requested, now, opts.yes === true)
    : null;
  // "Now" is the earlier of the host's clock and Stripe's: `created` is on Stripe's clock, and a
  // host running fast would put the charges of its next minutes before the start line.
  const stripeNow = requested === undefined ? await new StripeSource(stripeClient(stripeKey, env.stripeApiBase)).stripeNow() : null;
  const { ledger } = await createLedger(env);
  try {
    const result = await ledger.transaction(async (tx): Promise<InitResult> => {
      if ((await tx.getMeta("mode")) === undefined) await tx.setMeta("mode", keyMode(stripeKey));
      // Whoever sets the start line made the ledger: with several hosts running `init` at once
      // against one database, exactly one does, and the others see its start line.
      const startLine = requested ?? Math.min(toUnixSeconds(now), stripeNow ?? Infinity);
      if (await tx.insertMeta("start_line", String(startLine))) {
        await tx.setMeta("watermark", String(startLine));
        // Download tokens are signed with this; in the ledger, so every host sharing it agrees.
        await tx.setMeta("link_key", newLinkKey());
        return { lines: [`ledger created at ${ledger.where}`, `start line: ${isoSeconds(startLine)} (charges created earlier are never delivered)`] };
      }
      const current = Number(await tx.getMeta("start_line"));
      if (requested === undefined || requested >= current) {
        const note = requested === undefined ? "" : ` (--since ${isoSeconds(requested)} is not earlier; the start line never moves later)`;
        return { lines: [`ledger exists at ${ledger.where}; nothing changed`, `start line: ${isoSeconds(current)}${note}`] };
      }
      await tx.setMeta("start_line", String(requested));
      // Pull the listing back too, so the next pass walks the backlog just taken in.
      await tx.setMeta("watermark", String(Math.min(requested, Number((await tx.getMeta("watermark")) ?? requested))));
      return { lines: [`start line moved earlier: ${isoSeconds(current)} → ${isoSeconds(requested)}`, "the next pass takes in the charges created in between"] };
    });
    return backlog ? { lines: [...result.lines, backlog] } : result;
  } finally {
    await ledger.close();
  }
}

/**
 * A start line more than a year back (`--since 100000d`, `--since 1970-01-01`) emails every buyer
 * since then who has no delivery yet. Say how many, from one list request, and ask for --yes.
 */
async function confirmBacklog(stripe: StripeSource, since: number, now: number, yes: boolean): Promise<string> {
  let takes: string;
  try {
    const { count, atLeast } = await stripe.countPaid({ gte: since, lte: toUnixSeconds(now) });
    takes = `it takes in ${atLeast ? "at least " : ""}${count} paid charge(s) created since then`;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    takes = `paidup could not count the paid charges it takes in (${err instanceof PaidupError || err instanceof Error ? err.message : String(err)})`;
  }
  const what = `--since ${isoSeconds(since)} is more than a year back: ${takes}, and the next pass emails every one of their buyers who has no delivery yet`;
  if (!yes) throw new UsageError(what, "run the same command with --yes if you mean it; nothing was created or changed");
  return `${what} (confirmed with --yes)`;
}
