import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { decodeHistogram, distributionFrom } from '../../campaign/histogram.js';

describe('latency distribution from an encoded HdrHistogram', () => {
  it('CDF and percentiles match the recorded values; bins hold every sample', () => {
    const h = hdr.build();
    for (let v = 1; v <= 1000; v++) h.recordValue(v * 100); // 0.1 .. 100 ms in us
    const d = distributionFrom(decodeHistogram(hdr.encodeIntoCompressedBase64(h), 1e-3));
    expect(d.count).toBe(1000);
    expect(d.cdf.y[d.cdf.y.length - 1]).toBe(1);
    expect(d.percentilesMs.p50).toBeCloseTo(50, 0);
    expect(d.percentilesMs.p99).toBeCloseTo(99, 0);
    expect(d.bins.count.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(d.bins.edgeMs[0]).toBeCloseTo(0.1, 6);
    // monotone
    for (let i = 1; i < d.cdf.xMs.length; i++) expect(d.cdf.xMs[i]!).toBeGreaterThan(d.cdf.xMs[i - 1]!);
  });
  it('an empty histogram gives an empty distribution', () => {
    const d = distributionFrom([]);
    expect(d.count).toBe(0);
    expect(d.cdf.xMs).toEqual([]);
    expect(Number.isNaN(d.percentilesMs.p50)).toBe(true);
  });
});
