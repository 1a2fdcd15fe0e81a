// How many decimal places Stripe's API uses for an amount in each currency (docs.stripe.com/
// currencies). This is Stripe's table, not ISO 4217's: Intl says 0 for HUF, IDR, ISK, COP, PKR
// and LAK, where Stripe's amounts carry two (an ISK 500 charge is 5 krónur), so formatting with
// Intl's digits showed those amounts 100× too large.

const ZERO_DECIMAL = new Set(["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]);
const THREE_DECIMAL = new Set(["BHD", "JOD", "KWD", "OMR", "TND"]);

/** Decimal places of Stripe's `amount` for this currency (the special cases ISK, HUF, TWD: two). */
export function stripeDecimals(currency: string): number {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

// Building an Intl.NumberFormat costs ~0.15 ms, most of paidup's own CPU per charge in a long
// pass (bench/RESULTS.md): one per currency, not one per charge.
const formatters = new Map<string, { fmt: Intl.NumberFormat; digits: number }>();

/**
 * 4900 usd → "$49.00", 4900 jpy → "¥4,900", 500 isk → "ISK 5": the one formatter for emails,
 * alerts, `status` and `show`, by Stripe's decimal places for the currency.
 */
export function formatAmount(amount: number, currency: string): string {
  const code = currency.toUpperCase();
  const digits = stripeDecimals(code);
  try {
    let f = formatters.get(code);
    if (!f) {
      const local = new Intl.NumberFormat("en-US", { style: "currency", currency: code }).resolvedOptions().maximumFractionDigits ?? 2;
      // Intl's usual digits where Stripe's amount has them (USD 49.00), never hiding a minor unit.
      const fmt = new Intl.NumberFormat("en-US", { style: "currency", currency: code, minimumFractionDigits: Math.min(local, digits), maximumFractionDigits: digits });
      formatters.set(code, (f = { fmt, digits }));
    }
    return f.fmt.format(amount / 10 ** f.digits);
  } catch {
    return `${(amount / 10 ** digits).toFixed(digits)} ${code}`;
  }
}
