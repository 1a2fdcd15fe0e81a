import { loadEnv } from "../config";
import { EXIT, ExitCode } from "../errors";
import { CheckResult, runChecks } from "./checks";

export function checkLines(results: readonly CheckResult[]): string[] {
  return results.map((r) => `${r.ok ? "✓" : "✗"} ${r.name}: ${r.detail.replace(/\n/g, "\n    ")}`);
}

/** Validates the configuration without delivering: exit 2 when any check fails. */
export async function checkCommand(): Promise<ExitCode> {
  const results = await runChecks(loadEnv());
  const failed = results.filter((r) => !r.ok).length;
  const summary = failed === 0 ? "all checks passed" : `${failed} check(s) failed`;
  process.stdout.write([...checkLines(results), summary].join("\n") + "\n");
  return failed === 0 ? EXIT.ok : EXIT.usage;
}
