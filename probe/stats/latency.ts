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
