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
 * c(alpha) = sqrt(-ln(alpha / 2) / 2) (alpha = 0.001 -> 1.95).
 */
export function ksCritical(n: number, m: number, alpha = 0.001): number {
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

/** |k - n p| bound for a binomial count: z standard deviations (4.4 -> ~1e-5 two-sided). */
export function binomialBound(n: number, p: number, z = 4.4): number {
  return z * Math.sqrt(n * p * (1 - p));
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
