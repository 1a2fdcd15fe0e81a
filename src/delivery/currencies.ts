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
