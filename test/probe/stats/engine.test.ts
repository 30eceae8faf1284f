import { describe, expect, it } from 'vitest';
import { ProbeStats, type ProbeStatsConfig } from '../../../probe/stats/engine.js';
import { Rfc3550Jitter } from '../../../probe/stats/jitter.js';
import { Rfc4737Reordering } from '../../../probe/stats/reorder.js';
import { OutageDetector, type OutageWindow } from '../../../probe/stats/outage.js';
import { buildSummary } from '../../../probe/stats/summary.js';
import { LatencyDistribution } from '../../../probe/stats/latency.js';

const MS = 1_000_000;

function engine(over: Partial<ProbeStatsConfig> = {}): ProbeStats {
  return new ProbeStats({
    intervalNs: 10 * MS, timeoutNs: 100 * MS, windowSize: 64, outageMinLost: 3, directional: false,
    toWallMs: (ns) => 1_000_000 + ns / MS, ...over,
  });
}

/** Send seqs 0..n-1 at k*10 ms exactly on schedule. */
function sendAll(s: ProbeStats, n: number): void {
  for (let k = 0; k < n; k++) s.sent(k, k * 10 * MS, k * 10 * MS);
}

describe('RFC 4737 reordering', () => {
  it('arrivals 1,4,2,3: 2 and 3 reordered with extents 1 and 2 (irtt would flag only 2)', () => {
    const r = new Rfc4737Reordering(16);
    expect([1, 4, 2, 3].map((s) => r.add(s))).toEqual([0, 0, 1, 2]);
    expect(r.reordered).toBe(2);
    expect(r.ratio).toBe(0.5);
    expect(r.maxExtent).toBe(2);
    expect(r.meanExtent).toBe(1.5);
  });

  it.each([
    [[1, 2, 3, 4, 5], 0, 0],
    [[2, 1, 3, 4], 1, 1],
    [[5, 1, 2, 3, 4], 4, 4], // extents 1,2,3,4
    [[1, 3, 2, 5, 4, 6], 2, 1],
  ])('arrivals %j -> %i reordered, max extent %i', (seqs, reordered, maxExtent) => {
    const r = new Rfc4737Reordering(16);
    for (const s of seqs) r.add(s);
    expect(r.reordered).toBe(reordered);
    expect(r.maxExtent).toBe(maxExtent);
  });

  it('keeps constant memory: beyond the window the extent is a counted lower bound', () => {
    const r = new Rfc4737Reordering(4);
    for (const s of [10, 11, 12, 13, 14, 15]) r.add(s);
    expect(r.add(1)).toBe(4); // true extent 6 (first larger is arrival 1); the window kept arrivals 3..6
    expect(r.extentBeyondWindow).toBe(1);
  });
});

describe('RFC 3550 jitter', () => {
  it('J += (|D| - J)/16 in arrival order', () => {
    const j = new Rfc3550Jitter();
    j.add(0, 100); // reference
    expect(j.jitterNs).toBe(0);
    j.add(10, 126); // D = 26 - 10 = 16 -> J = 1
    expect(j.jitterNs).toBe(1);
    j.add(20, 120); // D = -6 - 10 = -16 -> J = 1 + 15/16
    expect(j.jitterNs).toBe(1 + 15 / 16);
  });
});

describe('ProbeStats', () => {
  it('counts loss, late, duplicates, stray exactly and computes RTT minus reflector dwell', () => {
    const s = engine();
    sendAll(s, 5);
    expect(s.reply(0, 5 * MS, 1 * MS)).toBe('received'); // rtt 4 ms
    expect(s.reply(0, 6 * MS, 0)).toBe('duplicate');
    expect(s.reply(1, 17 * MS, 0)).toBe('received'); // rtt 7 ms
    expect(s.reply(9, 18 * MS, 0)).toBe('stray');
    s.expire(125 * MS); // seqs sent at <= 25 ms: 0,1,2 -> 2 lost
    expect(s.counts()).toMatchObject({ sent: 5, received: 2, lost: 1, duplicates: 1, stray: 1, inFlight: 2 });
    expect(s.reply(2, 126 * MS, 0)).toBe('late');
    expect(s.reply(2, 127 * MS, 0)).toBe('duplicate');
    expect(s.reply(3, 40 * MS, 0)).toBe('received'); // rtt 10 ms
    s.finish();
    const c = s.counts();
    expect(c).toMatchObject({ sent: 5, received: 3, lost: 2, late: 1, duplicates: 2, inFlight: 0 });
    expect(s.rtt.min).toBe(4 * MS);
    expect(s.rtt.max).toBe(10 * MS);
    expect(s.rtt.meanNs()).toBe(7 * MS);
    expect(s.rtt.stddevNs()).toBeCloseTo(Math.sqrt(6) * MS, -1);
  });

  it('ignores a dwell that is negative or exceeds the raw RTT (clock nonsense)', () => {
    const s = engine();
    sendAll(s, 2);
    s.reply(0, 5 * MS, -1);
    s.reply(1, 15 * MS, 9 * MS);
    expect(s.rtt.min).toBe(5 * MS);
    expect(s.rtt.max).toBe(5 * MS);
  });

  it('RTT from intended send time includes sender lateness (coordinated omission)', () => {
    const s = engine();
    s.sent(0, 0, 3 * MS); // 3 ms late
    s.reply(0, 8 * MS, 0);
    expect(s.rtt.max).toBe(5 * MS);
    expect(s.rttIntended.max).toBe(8 * MS);
    expect(s.sendLateness.max).toBe(3 * MS);
  });

  it('IPDV by sequence, undefined across a loss, even when replies arrive out of order', () => {
    const s = engine();
    sendAll(s, 5);
    // rtts: seq0 5, seq1 8, seq2 lost, seq3 6, seq4 9 ; seq1 arrives after seq3
    s.reply(0, 5 * MS, 0);
    s.reply(3, 36 * MS, 0);
    s.reply(1, 18 * MS, 0);
    s.reply(4, 49 * MS, 0);
    s.finish();
    // IPDV pairs (0,1) = +3 and (3,4) = +3 ; (1,2),(2,3) undefined
    expect(s.ipdvMs()).toMatchObject({ count: 2, min: 3, max: 3, maxAbs: 3 });
    expect(s.counts().reordered).toBe(1); // seq1 arrived after seq3
  });

  it('PDV = RTT quantile minus minimum', () => {
    const s = engine({ windowSize: 200 });
    for (let k = 0; k < 100; k++) {
      s.sent(k, k * 10 * MS, k * 10 * MS);
      s.reply(k, k * 10 * MS + (k < 50 ? 2 : 5) * MS, 0);
    }
    // percentiles carry HdrHistogram's stated precision (3 significant digits: 0.1 %)
    const pdv = s.pdvMs();
    expect(pdv.p50).toBeGreaterThanOrEqual(0);
    expect(pdv.p50).toBeLessThanOrEqual(2 * 1e-3);
    expect(Math.abs((pdv.p99 as number) - 3)).toBeLessThanOrEqual(5 * 1e-3);
    expect(pdv.p999).toBe(3); // clamped to the exact max
  });

  it('a reply after its timeout is late and lost even when expire() has not run', () => {
    const s = engine(); // timeout 100 ms
    s.sent(0, 0, 0);
    expect(s.reply(0, 100 * MS + 1, 0)).toBe('late');
    expect(s.counts()).toMatchObject({ sent: 1, received: 0, lost: 1, late: 1, inFlight: 0 });
    expect(s.rtt.count).toBe(0);
    expect(s.reply(0, 100 * MS + 2, 0)).toBe('duplicate');
    s.finish();
    expect(s.counts()).toMatchObject({ lost: 1, late: 1, received: 0 });
  });

  it('a late reply expires older probes too, and the loss feeds outage windows', () => {
    const s = engine({ outageMinLost: 3 });
    sendAll(s, 5); // sent at 0..40 ms
    s.reply(0, 1 * MS, 0);
    // seq 1..3 get no reply; seq 4's reply arrives at 141 ms (RTT 101 ms > timeout): late, and 1..3
    // (sent at <= 41 ms) are past their timeout too.
    expect(s.reply(4, 141 * MS, 0)).toBe('late');
    expect(s.counts()).toMatchObject({ received: 1, lost: 4, late: 1, inFlight: 0 });
    s.finish();
    expect(s.outages.windows).toHaveLength(1);
    expect(s.outages.windows[0]).toMatchObject({ lost: 4, firstLostSeq: 1, lastLostSeq: 4, openEnd: true });
    const sum = buildSummary(s, {
      id: 'x', probe: 'stamp', kind: 'stamp', target: 't', startedAtMs: 0, elapsedMs: 200, intervalMs: 10,
      timeoutMs: 100, sizeBytes: 44, timer: 'sleep', done: true, rcvbufErrors: 0,
    });
    expect(sum).toMatchObject({ sent: 5, received: 1, lost: 4, late: 1, lossRatio: 0.8 });
  });

  it('a reply just inside the timeout is received', () => {
    const s = engine();
    s.sent(0, 0, 0);
    expect(s.reply(0, 100 * MS - 1, 0)).toBe('received');
    expect(s.counts()).toMatchObject({ received: 1, lost: 0, late: 0 });
  });

  it('slots skipped before an answered probe are recorded in rttFromIntended (expected-interval correction)', () => {
    const s = engine();
    s.sent(0, 0, 0);
    s.reply(0, 2 * MS, 0);
    s.missed(10, 100 * MS); // slots 1..10 (intended 10..100 ms) skipped
    s.sent(1, 110 * MS, 110 * MS); // carrier: slot 11
    s.reply(1, 112 * MS, 0);
    expect(s.rtt.count).toBe(2);
    expect(s.rtt.max).toBe(2 * MS);
    expect(s.rttIntended.count).toBe(12);
    // slot 11-m would have been answered with the carrier: 2 ms + m * 10 ms, m = 1..10
    expect(s.rttIntended.max).toBe(102 * MS);
    expect(s.rttIntended.min).toBe(2 * MS);
    expect(s.rttIntended.meanNs()).toBe((2 * 2 + (10 * 2 + 10 * 10 * 11 / 2)) * MS / 12);
  });

  it('no correction when the carrier of skipped slots is lost', () => {
    const s = engine();
    s.missed(5, 50 * MS);
    s.sent(0, 50 * MS, 50 * MS);
    s.finish();
    expect(s.rttIntended.count).toBe(0);
    expect(s.counts()).toMatchObject({ missed: 5, lost: 1 });
  });

  it('missed slots are counted with their lateness and never as loss', () => {
    const s = engine();
    s.missed(3, 35 * MS);
    s.finish();
    expect(s.counts()).toMatchObject({ missed: 3, lost: 0, sent: 0 });
    expect(s.missedMaxLatenessNs).toBe(35 * MS);
  });

  it('rejects a window too small for timeout/interval', () => {
    expect(() => engine({ windowSize: 5 })).toThrow(/window 5/);
  });

  it('stays exact when the window wraps many times (constant memory)', () => {
    const s = engine({ windowSize: 16, timeoutNs: 50 * MS });
    for (let k = 0; k < 10_000; k++) {
      s.sent(k, k * 10 * MS, k * 10 * MS);
      if (k % 10 !== 7) s.reply(k, k * 10 * MS + MS, 0);
      s.expire(k * 10 * MS);
    }
    s.finish();
    expect(s.counts()).toMatchObject({ sent: 10_000, received: 9000, lost: 1000, inFlight: 0 });
    expect(s.outages.count).toBe(0);
  });
});

describe('LatencyDistribution.recordSeries', () => {
  it('equals recording each value: exact count/min/max/mean/stddev, percentiles within the stated 0.1 %', () => {
    const one = new LatencyDistribution();
    const series = new LatencyDistribution();
    const first = 1.5 * MS, step = 0.1 * MS, n = 50_000;
    for (let m = 0; m < n; m++) one.record(first + m * step);
    series.recordSeries(first, step, n);
    expect(series.count).toBe(n);
    expect(series.min).toBe(one.min);
    expect(series.max).toBe(one.max);
    expect(series.meanNs()).toBeCloseTo(one.meanNs(), 0);
    expect(Math.abs(series.stddevNs() - one.stddevNs()) / one.stddevNs()).toBeLessThan(1e-9);
    for (const p of [1, 10, 50, 90, 99, 99.9, 100]) {
      expect(Math.abs(series.percentileNs(p) - one.percentileNs(p)) / one.percentileNs(p)).toBeLessThanOrEqual(1e-3);
    }
  });

  it('does bounded work for any n (a 1e9-slot stall)', () => {
    const d = new LatencyDistribution();
    let calls = 0;
    const rec = d.hist.recordValueWithCount.bind(d.hist);
    d.hist.recordValueWithCount = (v: number, c: number) => {
      calls += 1;
      rec(v, c);
    };
    d.recordSeries(10_000, 1000, 1e9); // 1 us steps up to ~1000 s
    // at most ~2048 groups per power of two of the range (1e4 .. 1e12 ns: < 27 doublings)
    expect(calls).toBeLessThanOrEqual(2048 * 30);
    expect(d.count).toBe(1e9);
    expect(d.max).toBe(10_000 + (1e9 - 1) * 1000);
    expect(Math.abs(d.percentileNs(50) - 5e11) / 5e11).toBeLessThanOrEqual(2e-3);
  });
});

describe('outage windows', () => {
  const I = 10 * MS;
  function detector(min = 3, directional = false): { d: OutageDetector; seen: OutageWindow[] } {
    const seen: OutageWindow[] = [];
    const d = new OutageDetector({ minLost: min, intervalNs: I, toWallMs: (ns) => ns / MS, directional, onOutage: (w) => seen.push(w) });
    return { d, seen };
  }

  it('a run of k >= N lost: duration = send(b) - send(a) - interval, bound one interval', () => {
    const { d, seen } = detector();
    d.received({ seq: 0, sendNs: 0 });
    d.received({ seq: 1, sendNs: I });
    for (let s = 2; s <= 6; s++) d.lost(s, s * I);
    d.received({ seq: 7, sendNs: 7 * I });
    expect(seen).toEqual([{ startMs: 15, endMs: 65, durationMs: 50, lost: 5, boundMs: 10, firstLostSeq: 2, lastLostSeq: 6, missed: 0, openStart: false, openEnd: false }]);
  });

  it('N-1 lost is not an outage; N is', () => {
    const { d, seen } = detector(3);
    d.received({ seq: 0, sendNs: 0 });
    d.lost(1, I); d.lost(2, 2 * I);
    d.received({ seq: 3, sendNs: 3 * I });
    expect(seen).toHaveLength(0);
    d.lost(4, 4 * I); d.lost(5, 5 * I); d.lost(6, 6 * I);
    d.received({ seq: 7, sendNs: 7 * I });
    expect(seen.map((w) => [w.lost, w.durationMs])).toEqual([[3, 30]]);
  });

  it('a sender stall inside the run stretches the window (send times, not seq counts)', () => {
    const { d, seen } = detector();
    d.received({ seq: 0, sendNs: 0 });
    d.lost(1, I); d.lost(2, 2 * I); d.lost(3, 8 * I); // stall between seq 2 and 3
    d.received({ seq: 4, sendNs: 9 * I });
    expect(seen[0]?.durationMs).toBe(80);
  });

  it('counts the slots the sender skipped inside each window (missed), not elsewhere', () => {
    const { d, seen } = detector();
    d.received({ seq: 0, sendNs: 0, missedBefore: 4 }); // before the window: not counted
    d.lost(1, I, 2); d.lost(2, 2 * I); d.lost(3, 8 * I, 5);
    d.received({ seq: 4, sendNs: 12 * I, missedBefore: 3 }); // skipped between the last lost and b: inside
    d.lost(5, 13 * I); d.lost(6, 14 * I); d.lost(7, 15 * I);
    d.received({ seq: 8, sendNs: 16 * I });
    expect(seen.map((w) => [w.lost, w.missed])).toEqual([[3, 10], [3, 0]]);
  });

  it('open at the start and at the end', () => {
    const { d, seen } = detector();
    d.lost(0, 0); d.lost(1, I); d.lost(2, 2 * I);
    d.received({ seq: 3, sendNs: 3 * I });
    d.lost(4, 4 * I); d.lost(5, 5 * I); d.lost(6, 6 * I); d.lost(7, 7 * I);
    d.finish();
    expect(seen.map((w) => [w.openStart, w.openEnd, w.lost, w.durationMs])).toEqual([[true, false, 3, 30], [false, true, 4, 40]]);
  });

  it('direction from a stateful reflector: forward, reverse, both', () => {
    const { d, seen } = detector(3, true);
    d.received({ seq: 0, sendNs: 0, reflectorSeq: 0 });
    for (let s = 1; s <= 3; s++) d.lost(s, s * I); // reflector never saw them
    d.received({ seq: 4, sendNs: 4 * I, reflectorSeq: 1 });
    for (let s = 5; s <= 7; s++) d.lost(s, s * I); // reflector saw all three
    d.received({ seq: 8, sendNs: 8 * I, reflectorSeq: 5 });
    for (let s = 9; s <= 12; s++) d.lost(s, s * I); // reflector saw one of four
    d.received({ seq: 13, sendNs: 13 * I, reflectorSeq: 7 });
    expect(seen.map((w) => [w.direction, w.forwardLost, w.reverseLost])).toEqual([['forward', 3, 0], ['reverse', 0, 3], ['both', 3, 1]]);
    expect([d.forwardLost, d.reverseLost]).toEqual([6, 4]);
  });
});

describe('summary', () => {
  it('carries the documented fields and an encoded histogram', () => {
    const s = engine();
    sendAll(s, 3);
    s.reply(0, 2 * MS, 0);
    s.reply(1, 13 * MS, 0);
    s.finish();
    const sum = buildSummary(s, {
      id: 'x', probe: 'stamp', kind: 'stamp', target: '10.0.0.1:862', startedAtMs: 0, elapsedMs: 30, intervalMs: 10,
      timeoutMs: 100, sizeBytes: 44, timer: 'hybrid', done: true, rcvbufErrors: 0,
    }, true);
    expect(sum).toMatchObject({ sent: 3, received: 2, lost: 1, late: 0, duplicates: 0, reordered: 0, missed: 0, lossRatio: 1 / 3 });
    expect(sum.rttMs).toMatchObject({ min: 2, max: 3, mean: 2.5, stddev: 0.5 });
    expect(Math.abs((sum.rttMs.p50 as number) - 2)).toBeLessThanOrEqual(2 * 1e-3);
    expect(sum.rttMs.p99).toBeCloseTo(3, 2);
    expect(sum.histogram?.rtt).toMatch(/^[A-Za-z0-9+/=]+$/);
  });

  it('reports the effective reordering window (capped at 65536) beside the declared sequence window', () => {
    const meta = {
      id: 'x', probe: 'stamp', kind: 'stamp' as const, target: 't', startedAtMs: 0, elapsedMs: 0, intervalMs: 10,
      timeoutMs: 100, sizeBytes: 44, timer: 'sleep', done: true, rcvbufErrors: 0,
    };
    expect(buildSummary(engine({ windowSize: 100_000 }), meta).reordering).toMatchObject({ windowSize: 65536, sequenceWindow: 100_000 });
    expect(buildSummary(engine({ windowSize: 4096 }), meta).reordering).toMatchObject({ windowSize: 4096, sequenceWindow: 4096 });
  });
});

describe('export queue', () => {
  it('is off until an exporter attaches; a full queue drops and counts, never blocks', () => {
    const s = engine({ exportQueue: 4 });
    sendAll(s, 10);
    s.reply(0, MS, 0);
    let drained: number[] = [];
    s.drainRtt((ns) => drained.push(ns));
    expect(drained).toEqual([]);
    s.exportQueueEnabled = true;
    for (let k = 1; k <= 6; k++) s.reply(k, k * 10 * MS + 2 * MS, 0);
    expect(s.exportDropped).toBe(2);
    s.drainRtt((ns) => drained.push(ns));
    expect(drained).toEqual([2 * MS, 2 * MS, 2 * MS, 2 * MS]);
    drained = [];
    s.drainRtt((ns) => drained.push(ns));
    expect(drained).toEqual([]);
    expect(s.rtt.count).toBe(7); // the HDR summary lost nothing
  });
});
