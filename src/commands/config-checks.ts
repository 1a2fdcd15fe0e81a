import type { Config, Product } from "../config";
import { UsageError } from "../errors";
import { renderEmail, unknownPlaceholders } from "../delivery/templates";

// Checks of a loaded config that need no network. `check` prints them one by one, and every
// command that sends refuses to start on any of them (exit 2, nothing changed): otherwise a
// `from` Resend cannot accept is discovered by refusing every charge, and the alert with them.

export interface ConfigProblem {
  name: string;
  detail: string;
}

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;.]+(?:\.[^\s@<>",;.]+)*\.[A-Za-z]{2,}$/;

/** The bare address of `a@b.c` or `Name <a@b.c>`. */
export function bareAddress(value: string): string {
  return (/^[^<>]*<([^<>]+)>$/.exec(value.trim())?.[1] ?? value).trim();
}

export function plausibleFrom(from: string): boolean {
  return ADDRESS.test(bareAddress(from));
}

export function fromProblem(from: string): string | null {
  return plausibleFrom(from) ? null : `"${from}" is not an address like shop@example.com or Shop <shop@example.com>`;
}

/** Unknown placeholder names, links the product does not define, and templates that do not parse. */
export function templateProblems(product: Product): string[] {
  const problems: string[] = [];
  const templates: [string, string | undefined][] = [["subject", product.subject], ["text", product.textTemplate], ["html", product.htmlTemplate]];
  for (const [field, template] of templates) {
    if (template === undefined) continue;
    let names: string[];
    try {
      names = unknownPlaceholders(template);
      renderEmail(product, {
        name: "Ada", email: "ada@example.com", product: product.name, charge: "ch_check", amount: "$1.00", links: product.links,
        downloads: product.downloads ? [{ name: "file.zip", url: "https://example.com/d/x", expires: "2026-01-01 00:00 UTC" }] : undefined,
        license: product.license ? { key: "PREFIX-AAAAA-BBBBB", activations: product.license.activations, expires: "never" } : undefined,
      });
    } catch (err) {
      problems.push(`${field} does not parse: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    if (names.length > 0) problems.push(`${field} uses unknown placeholder(s) ${names.map((n) => `{{${n}}}`).join(", ")}`);
    const links = [...template.matchAll(/\{\{\{?\s*&?\s*links\.([^}\s]+)\s*\}?\}\}/g)].map((m) => m[1] as string);
    const undefinedLinks = links.filter((l) => !(l in product.links));
    if (undefinedLinks.length > 0) problems.push(`${field} uses links the product does not define: ${undefinedLinks.map((l) => `links.${l}`).join(", ")}`);
  }
  return problems;
}

/** Everything about a config that would make every send (or one product's) go wrong. */
export function sendingProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const from = fromProblem(config.from);
  if (from) problems.push({ name: "from address", detail: from });
  for (const product of config.products) {
    const found = templateProblems(product);
    if (found.length > 0) problems.push({ name: `templates of ${product.key}`, detail: found.join("; ") });
  }
  return problems;
}

/** Run by every command that sends, before it touches the ledger. */
export function assertSendable(config: Config, configPath: string): void {
  const problems = sendingProblems(config);
  if (problems.length === 0) return;
  throw new UsageError(
    `config file ${configPath} cannot be used to send:\n${problems.map((p) => `  ${p.name}: ${p.detail}`).join("\n")}`,
    "fix it and run `paidup check`; nothing was sent or changed",
  );
}
