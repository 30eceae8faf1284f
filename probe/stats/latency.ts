/**
 * A latency distribution: HdrHistogram for percentiles (3 significant digits: every reported
 * percentile is within 0.1% of a recorded value), plus exact min, max, mean and standard deviation
 * from running sums. Values are ns; constant memory (~200 KB per histogram, 1 ns .. 1 h range).
 */
import * as hdr from 'hdr-histogram-js';

export const HDR_SIGNIFICANT_DIGITS = 3;
const HIGHEST_NS = 3_600_000_000_000;

export interface LatencyMs {
  count: number;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  mean: number | null;
  stddev: number | null;
}

export class LatencyDistribution {
  readonly hist = hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_NS,
    numberOfSignificantValueDigits: HDR_SIGNIFICANT_DIGITS,
    useWebAssembly: false,
  });
  count = 0;
  min = Infinity;
  max = -Infinity;
  private sum = 0;
  private sumSq = 0;
  /** Values above the histogram's range (clamped into it for percentiles). */
  clamped = 0;

  record(ns: number): void {
    const v = Math.max(1, Math.round(ns));
    if (v > HIGHEST_NS) this.clamped += 1;
    this.hist.recordValue(Math.min(v, HIGHEST_NS));
    this.count += 1;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.sum += ns;
    this.sumSq += ns * ns;
  }

  /**
   * Record the n values first + m·step for m = 0..n-1 (ns; step >= 0), e.g. the slots a sender
   * skipped. count, min, max, mean and stddev are exact; percentiles keep the histogram's stated
   * precision. Bounded work whatever n: consecutive values closer than the histogram's resolution
   * at that magnitude (value/2048, under its 3-digit bucket width) are recorded together, at their
   * mean, with recordValueWithCount; at most ~2048 groups per power of two of the range.
   */
  recordSeries(firstNs: number, stepNs: number, n: number): void {
    if (n <= 0) return;
    let m = 0;
    while (m < n) {
      const v = firstNs + m * stepNs;
      const k = stepNs > 0 ? Math.min(n - m, Math.max(1, Math.floor(v / 2048 / stepNs))) : n - m;
      const mid = Math.max(1, Math.round(v + ((k - 1) / 2) * stepNs));
      if (mid > HIGHEST_NS) this.clamped += k;
      this.hist.recordValueWithCount(Math.min(mid, HIGHEST_NS), k);
      m += k;
    }
    const last = firstNs + (n - 1) * stepNs;
    this.count += n;
    if (firstNs < this.min) this.min = firstNs;
    if (last > this.max) this.max = last;
    // Σ (a + m d) and Σ (a + m d)² for m = 0..n-1
    const s1 = (n * (n - 1)) / 2;
    const s2 = ((n - 1) * n * (2 * n - 1)) / 6;
    this.sum += n * firstNs + stepNs * s1;
    this.sumSq += n * firstNs * firstNs + 2 * firstNs * stepNs * s1 + stepNs * stepNs * s2;
  }

  meanNs(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  /** Population standard deviation. */
  stddevNs(): number {
    if (this.count === 0) return NaN;
    const m = this.sum / this.count;
    return Math.sqrt(Math.max(0, this.sumSq / this.count - m * m));
  }

  percentileNs(p: number): number {
    return this.count === 0 ? NaN : this.hist.getValueAtPercentile(p);
  }

  toMs(): LatencyMs {
    if (this.count === 0) return { count: 0, min: null, p50: null, p90: null, p99: null, p999: null, max: null, mean: null, stddev: null };
    // Percentiles are clamped into [min, max]: HDR reports a bucket's highest equivalent value.
    const pct = (p: number): number => ms(Math.min(this.max, Math.max(this.min, this.percentileNs(p))));
    return {
      count: this.count,
      min: ms(this.min),
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      p999: pct(99.9),
      max: ms(this.max),
      mean: ms(this.meanNs()),
      stddev: ms(this.stddevNs()),
    };
  }

  /** HdrHistogram V2 compressed, base64 (interoperable with the Java/Rust/Go implementations). */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.hist);
  }

  reset(): void {
    this.hist.reset();
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.sum = 0;
    this.sumSq = 0;
    this.clamped = 0;
  }
}

/** ns -> ms rounded to the ns (6 decimals). */
export function ms(ns: number): number {
  return Math.round(ns) / 1e6;
}
