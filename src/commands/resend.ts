import { openContext } from "./context";
import { EXIT, ExitCode } from "../errors";
import { resendCharge } from "../pass/resend-charge";

/** `paidup resend <charge> [--to <email>]`: parse, call, print, exit code. */
export async function resendCommand(chargeId: string, flags: { to?: string }): Promise<ExitCode> {
  const ctx = await openContext({ send: true });
  try {
    const out = await resendCharge(ctx.deps, chargeId, flags.to);
    for (const e of out.emails) {
      process.stdout.write(`${chargeId}: ${e.product} re-sent to ${out.to} (r${out.run}, email id ${e.emailId})\n`);
    }
    if (flags.to !== undefined) process.stdout.write(`${chargeId}: later sends go to ${out.to}\n`);
    for (const product of out.unknown) {
      process.stderr.write(
        `paidup: ${chargeId}: ${product} of r${out.run} to ${out.to}: outcome of the send unknown (its answer was lost over 23 h ago and Resend no longer recognises its key), not sent again\n` +
          `  hint: \`paidup evidence ${chargeId}\` shows what Resend reported; \`paidup resend ${chargeId}\` again starts r${out.run + 1} with every product\n`,
      );
    }
    return out.unknown.length > 0 ? EXIT.attention : EXIT.ok;
  } finally {
    await ctx.close();
  }
}
