import { systemClock } from "../clock";
import { Config, loadConfig, loadEnv } from "../config";
import { isoMs } from "../duration";
import { EXIT, ExitCode, UsageError } from "../errors";
import { LicenseRow, openLedger, Ledger } from "../ledger";
import { licenseKeyOf, metaOf } from "../licenses/answers";
import { hashKey } from "../licenses/keys";
import { statusOf } from "../licenses/status";

// `paidup license <key|charge_id> [--json]` shows a key (or a charge's keys) with its instances;
// `license disable|enable <key>` sets its status by hand (enable overrides a refund or dispute
// already recorded); `license deactivate <key> <instance_id>` frees a slot.

const ACTIONS = new Set(["disable", "enable", "deactivate"]);

export async function licenseCommand(args: readonly string[], flags: { json?: boolean }): Promise<ExitCode> {
  const [first, ...rest] = args;
  if (first === undefined) throw new UsageError("license needs a key or a charge id", "paidup license <key|charge_id> [--json]; paidup license disable|enable <key>; paidup license deactivate <key> <instance_id>");
  const env = loadEnv();
  const action = ACTIONS.has(first) ? first : null;
  const expected = action === "deactivate" ? 2 : action ? 1 : 0;
  if (rest.length !== expected) {
    throw new UsageError(action ? `license ${action} needs ${action === "deactivate" ? "<key> <instance_id>" : "<key>"}` : `license takes one key or charge id, got ${args.length}`);
  }
  // Only looking needs no write access: the ledger is opened read-only then.
  const ledger = await openLedger(env, action ? {} : { readonly: true });
  try {
    if (action === null) return await show(ledger, optionalConfig(env.configPath), first, flags.json === true);
    const row = await keyOrExit(ledger, rest[0] as string);
    const now = systemClock.now();
    if (action === "deactivate") {
      const instance = rest[1] as string;
      if (!(await ledger.deactivateInstance(row.id, instance, now))) {
        throw new UsageError(`${instance} is not an active instance of that key`, "`paidup license <key>` lists its instances");
      }
      process.stdout.write(`instance ${instance} deactivated: the key has a slot free\n`);
      return EXIT.ok;
    }
    await ledger.setLicenseEnabled(row.id, action === "enable", now);
    const after = (await ledger.licenseOf(row.charge_id, row.product)) as LicenseRow;
    process.stdout.write(`license key ${row.id} (${row.product}, charge ${row.charge_id}) is now ${statusOf(after, now)}\n`);
    return EXIT.ok;
  } finally {
    await ledger.close();
  }
}

/** The product names come from the config when it loads; `license` still works without it. */
function optionalConfig(configPath: string): Config | null {
  try {
    return loadConfig(configPath);
  } catch {
    return null;
  }
}

async function keyOrExit(ledger: Ledger, key: string): Promise<LicenseRow> {
  const row = await ledger.licenseByHash(hashKey(key));
  if (!row) throw new UsageError("no such license key in the ledger", "give the whole key, as the buyer's email shows it; `paidup license <charge_id>` lists a charge's keys");
  return row;
}

async function show(ledger: Ledger, config: Config | null, what: string, json: boolean): Promise<ExitCode> {
  const byCharge = /^(ch|py)_/.test(what);
  const rows = byCharge ? await ledger.licensesOfCharge(what) : [await keyOrExit(ledger, what)];
  if (rows.length === 0) throw new UsageError(`${what} has no license keys in the ledger`, "`paidup show` tells what was delivered for it");
  const now = systemClock.now();
  const out = [];
  for (const row of rows) {
    const instances = (await ledger.licenseInstances(row.id)).map((i) => ({
      id: i.id, name: i.name, created_at: isoMs(i.created_at), ip: i.ip, deactivated_at: i.deactivated_at === null ? null : isoMs(i.deactivated_at),
    }));
    out.push({ license_key: licenseKeyOf(row, statusOf(row, now)), meta: await metaOf({ ledger, config }, row), instances });
  }
  if (json) {
    process.stdout.write(JSON.stringify(byCharge ? out : out[0], null, 2) + "\n");
    return EXIT.ok;
  }
  for (const [i, entry] of out.entries()) {
    const row = rows[i] as LicenseRow;
    const k = entry.license_key;
    if (i > 0) process.stdout.write("\n");
    process.stdout.write([
      `${k.key}  ${k.status}${row.disabled_by ? ` (by ${row.disabled_by})` : ""}`,
      `  product      ${entry.meta.product_id} (${entry.meta.product_name})   charge ${entry.meta.order_id}   ${entry.meta.customer_email ?? "-"}`,
      `  activations  ${k.activation_usage} of ${k.activation_limit}   created ${k.created_at}   expires ${k.expires_at ?? (row.expires_after_ms === null ? "never" : "(from its email's acceptance)")}`,
      ...entry.instances.map((n) => `  instance     ${n.id}  "${n.name}"  ${n.ip}  ${n.created_at}${n.deactivated_at ? `  deactivated ${n.deactivated_at}` : ""}`),
    ].join("\n") + "\n");
  }
  return EXIT.ok;
}
