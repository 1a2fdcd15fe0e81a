import { loadEnv, requireStripeKey } from "../config";
import { openLookContext } from "./context";
import { EXIT, ExitCode } from "../errors";
import { formatAmount } from "../delivery/templates";
import { accessLog, attachEvidence, Evidence, gatherEvidence } from "../pass/evidence";

/** `paidup evidence <charge> [--json] [--attach]`: read-only unless --attach, which writes a draft to Stripe. */
export async function evidenceCommand(chargeId: string, flags: { json?: boolean; attach?: boolean }): Promise<ExitCode> {
  const env = loadEnv();
  // Without --attach the ledger alone is enough; --attach needs the key that may write disputes.
  const stripeKey = flags.attach ? requireStripeKey(env) : undefined;
  const ctx = await openLookContext(env, stripeKey);
  try {
    const evidence = await gatherEvidence(ctx.ledger, chargeId, env.resendApiKey);
    const dispute = flags.attach && ctx.stripe ? await attachEvidence(ctx.stripe, evidence) : undefined;
    if (flags.json) {
      process.stdout.write(JSON.stringify(dispute ? { ...evidence, attachedTo: dispute } : evidence, null, 2) + "\n");
    } else {
      process.stdout.write(human(evidence));
      if (dispute) process.stdout.write(`\nsaved as draft evidence on dispute ${dispute}: review and submit it in Stripe's dashboard\n`);
    }
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function human(e: Evidence): string {
  const lines = [
    `charge         ${e.charge}  ${formatAmount(e.amount, e.currency)}  ${e.product ?? "-"}`,
    `customer email ${e.email ?? "-"}`,
    `service date   ${e.serviceDate ?? "never delivered by paidup"}`,
    "",
    `emails (${e.emails.length})`,
    ...e.emails.map((m) => `  ${m.at}  ${m.kind}  ${m.emailId}  to ${m.to ?? "?"}  last status: ${m.lastStatus ?? "unknown"}`),
  ];
  if (e.statusNote) lines.push(`  (${e.statusNote})`);
  lines.push("", `downloads (${e.downloads.filter((d) => d.counted).length} counted, ${e.downloads.length} requests)`);
  lines.push(...e.downloads.map((d) => `  ${d.at}  ${d.method} ${d.file}  ${d.status}  ${d.bytes} bytes  ${d.ip}  ${d.userAgent ?? "-"}`));
  if (e.activations.length > 0) {
    lines.push("", `license activations (${e.activations.length})`);
    lines.push(...e.activations.map((a) => `  ${a.at}  ${a.product}  "${a.instance}"  ${a.ip}${a.deactivatedAt ? `  (deactivated ${a.deactivatedAt})` : ""}`));
  }
  for (const a of e.afterDelivery) lines.push("", `${a.event} ${a.at}, after ${a.downloads} download(s)`);
  lines.push("", "access activity log, as --attach writes it:", accessLog(e));
  return lines.join("\n") + "\n";
}
