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
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
