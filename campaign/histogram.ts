/**
 * Latency distributions for reports, from a probe's encoded HdrHistogram (compressed base64, the
 * format hdr-histogram-js and HdrHistogram's other ports exchange). Pure apart from decoding.
 *
 * `unitMs` says what one histogram unit is in ms (1e-3 for a histogram recorded in microseconds,
 * 1e-6 for nanoseconds). The CDF is exact at every recorded value bucket (within the histogram's
 * stated precision); the bins are log-spaced so 1 ms and 600 ms paths are readable on one plot.
 */
import * as hdr from 'hdr-histogram-js';

export interface LatencyDistribution {
  count: number;
  /** CDF points: x in ms (ascending), y the fraction of samples <= x. */
  cdf: { xMs: number[]; y: number[] };
  /** Log-spaced bins: lower edge in ms and the sample count in [edge_i, edge_{i+1}). */
  bins: { edgeMs: number[]; count: number[] };
  percentilesMs: Record<'p25' | 'p50' | 'p75' | 'p90' | 'p99' | 'p999', number>;
}

/** Recorded (value, count) pairs of an encoded histogram, values converted to ms. */
export function decodeHistogram(encoded: string, unitMs: number): { valueMs: number; count: number }[] {
  const h = hdr.decodeFromCompressedBase64(encoded) as hdr.Histogram & {
    recordedValuesIterator?: { reset(): void; hasNext(): boolean; next(): { valueIteratedTo: number; countAtValueIteratedTo: number } };
  };
  const it = h.recordedValuesIterator;
  if (!it) throw new Error('this histogram implementation cannot be iterated');
  const out: { valueMs: number; count: number }[] = [];
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    if (v.countAtValueIteratedTo > 0) out.push({ valueMs: v.valueIteratedTo * unitMs, count: v.countAtValueIteratedTo });
  }
  return out;
}

/** Build the CDF and log-spaced bins from recorded (value, count) pairs. */
export function distributionFrom(points: readonly { valueMs: number; count: number }[], binCount = 40): LatencyDistribution {
  const sorted = [...points].filter((p) => p.count > 0).sort((a, b) => a.valueMs - b.valueMs);
  const total = sorted.reduce((a, p) => a + p.count, 0);
  const xMs: number[] = [];
  const y: number[] = [];
  let acc = 0;
  for (const p of sorted) {
    acc += p.count;
    xMs.push(p.valueMs);
    y.push(acc / total);
  }
  const pct = (q: number): number => {
    const idx = y.findIndex((v) => v >= q);
    return idx < 0 ? Number.NaN : (xMs[idx] as number);
  };
  const edgeMs: number[] = [];
  const count: number[] = [];
  if (sorted.length > 0) {
    const lo = Math.max((sorted[0] as { valueMs: number }).valueMs, 1e-3);
    const hi = Math.max((sorted[sorted.length - 1] as { valueMs: number }).valueMs, lo * 1.0001);
    const step = Math.log(hi / lo) / binCount;
    for (let i = 0; i < binCount; i++) {
      edgeMs.push(lo * Math.exp(step * i));
      count.push(0);
    }
    for (const p of sorted) {
      const i = step === 0 ? 0 : Math.min(binCount - 1, Math.max(0, Math.floor(Math.log(Math.max(p.valueMs, lo) / lo) / step)));
      count[i] = (count[i] as number) + p.count;
    }
  }
  return { count: total, cdf: { xMs, y }, bins: { edgeMs, count }, percentilesMs: { p25: pct(0.25), p50: pct(0.5), p75: pct(0.75), p90: pct(0.9), p99: pct(0.99), p999: pct(0.999) } };
}

/** A robust standard-deviation estimate: IQR / 1.349 (exact for a normal distribution). */
export function robustSigmaMs(d: LatencyDistribution): number | null {
  const { p25, p75 } = d.percentilesMs;
  return Number.isFinite(p25) && Number.isFinite(p75) ? (p75 - p25) / 1.349 : null;
}
