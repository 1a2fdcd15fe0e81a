import { loadEnv } from "../config";
import { isoSeconds, parseWhen, toUnixSeconds } from "../duration";
import { createLedger } from "../ledger";
import { keyMode } from "../stripe/stripe-source";
import { newLinkKey } from "../downloads/token";

export interface InitResult {
  lines: string[];
}

/**
 * Creates the ledger and its start line. On an existing ledger, `--since` may only move the
 * start line earlier (taking in a backlog on purpose); it never hides charges by moving it later.
 */
export async function initCommand(opts: { since?: string }, now: number): Promise<InitResult> {
  const env = loadEnv();
  const requested = opts.since === undefined ? undefined : toUnixSeconds(parseWhen(opts.since, now, "--since"));
  const { ledger, created } = await createLedger(env);
  try {
    return await ledger.transaction(async (tx): Promise<InitResult> => {
      if (env.stripeSecretKey && (await tx.getMeta("mode")) === undefined) await tx.setMeta("mode", keyMode(env.stripeSecretKey));
      if (created) {
        const startLine = requested ?? toUnixSeconds(now);
        await tx.setMeta("start_line", String(startLine));
        await tx.setMeta("watermark", String(startLine));
        // Download tokens are signed with this; in the ledger, so every host sharing it agrees.
        await tx.setMeta("link_key", newLinkKey());
        return { lines: [`ledger created at ${env.dbPath}`, `start line: ${isoSeconds(startLine)} (charges created earlier are never delivered)`] };
      }
      const current = Number(await tx.getMeta("start_line"));
      if (requested === undefined || requested >= current) {
        const note = requested === undefined ? "" : ` (--since ${isoSeconds(requested)} is not earlier; the start line never moves later)`;
        return { lines: [`ledger exists at ${env.dbPath}; nothing changed`, `start line: ${isoSeconds(current)}${note}`] };
      }
      await tx.setMeta("start_line", String(requested));
      // Pull the listing back too, so the next pass walks the backlog just taken in.
      await tx.setMeta("watermark", String(Math.min(requested, Number((await tx.getMeta("watermark")) ?? requested))));
      return { lines: [`start line moved earlier: ${isoSeconds(current)} → ${isoSeconds(requested)}`, "the next pass takes in the charges created in between"] };
    });
  } finally {
    await ledger.close();
  }
}
