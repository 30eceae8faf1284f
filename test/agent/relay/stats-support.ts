/** Statistics helpers for the relay conformance tests (bounds derived from sample sizes). */

/** Two-sample Kolmogorov-Smirnov statistic D = sup |F_a - F_b|. */
export function ks2(a: number[], b: number[]): number {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  return d;
}

/**
 * Critical value of the two-sample KS test: reject when D > c(alpha) * sqrt((n + m) / (n m)),
 * c(alpha) = sqrt(-ln(alpha / 2) / 2) (alpha = 1e-6 -> 2.69; 0.001 -> 1.95). alpha 1e-6 by default:
 * the suite holds hundreds of statistical checks and CI must pass essentially always. The relays in
 * these tests are seeded, so D's sampling part is fixed and only timing moves it; the margin is for
 * that (normal table vs the pareto one at n = 6000: D = 0.24, the critical value 0.049).
 */
export function ksCritical(n: number, m: number, alpha = 1e-6): number {
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

/** |k - n p| bound for a binomial count: z standard deviations (5.3 -> ~1e-7 two-sided; 4.4 -> ~1e-5). */
export function binomialBound(n: number, p: number, z = 5.3): number {
  return z * Math.sqrt(n * p * (1 - p));
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
