import { loadEnv } from "../config";
import { EXIT, ExitCode } from "../errors";
import { CheckResult, runChecks } from "./checks";

export function checkLines(results: readonly CheckResult[]): string[] {
  return results.map((r) => `${r.warning ? "!" : r.ok ? "✓" : "✗"} ${r.name}: ${r.detail.replace(/\n/g, "\n    ")}`);
}

/**
 * Validates the configuration without delivering: exit 2 when any check fails. With `--alert`,
 * one test alert through every alert channel too: exit 2 when one fails or none is configured.
 */
export async function checkCommand(flags: { alert?: boolean } = {}): Promise<ExitCode> {
  const env = loadEnv();
  const results = await runChecks(env);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (flags.alert) results.push(...(await (require("./test-alert") as typeof import("./test-alert")).sendTestAlerts(env)));
  const failed = results.filter((r) => !r.ok).length;
  const summary = failed === 0 ? "all checks passed" : `${failed} check(s) failed`;
  process.stdout.write([...checkLines(results), summary].join("\n") + "\n");
  return failed === 0 ? EXIT.ok : EXIT.usage;
}
