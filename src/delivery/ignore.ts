import type Stripe from "stripe";
import type { IgnoreRule } from "../config";

// The owner's `ignore` rules: charges the account takes for something else (another app, a
// SaaS plan), skipped before anything else is judged. Only the charge's own fields are read, so
// an ignored charge costs no lookup.

export const IGNORED_PREFIX = "ignored: ";

function matches(rule: IgnoreRule, charge: Stripe.Charge): boolean {
  if (rule.metadata) {
    const have = (charge.metadata ?? {}) as Record<string, string>;
    // "*": the key is there, whatever its value.
    return Object.entries(rule.metadata).every(([k, v]) => (v === "*" ? have[k] !== undefined : have[k] === v));
  }
  if (rule.application !== undefined) {
    const app = typeof charge.application === "string" ? charge.application : (charge.application?.id ?? null);
    return app === rule.application;
  }
  if (rule.descriptionPrefix !== undefined) return (charge.description ?? "").startsWith(rule.descriptionPrefix);
  return false;
}

/** The skip reason of the first rule the charge matches (`ignored: <the rule as JSON>`), or null. */
export function ignoredBy(rules: readonly IgnoreRule[], charge: Stripe.Charge): string | null {
  const rule = rules.find((r) => matches(r, charge));
  return rule ? `${IGNORED_PREFIX}${JSON.stringify(rule)}` : null;
}
