import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/random.js';
import { arrivalOrder, binomialBounds, burstLengths, burstMeanBounds, duplicated, gilbertBounds, isSubsequence, jitterShapeCut, lostSeqs, medianBand, normalCdf, pingResolutionMs, parsePing, quantile, reordered, rtts, within } from './measure.js';

// Captured from iputils ping in the kernel-tier guest (netem delay 20ms loss 10%), trimmed.
const PING = `PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data.
64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=20.7 ms
64 bytes from 10.77.0.2: icmp_seq=2 ttl=64 time=20.4 ms
64 bytes from 10.77.0.2: icmp_seq=5 ttl=64 time=21.1 ms
64 bytes from 10.77.0.2: icmp_seq=5 ttl=64 time=21.3 ms (DUP!)
64 bytes from 10.77.0.2: icmp_seq=4 ttl=64 time=25.0 ms
64 bytes from 10.77.0.2: icmp_seq=8 ttl=64 time=20.3 ms

--- 10.77.0.2 ping statistics ---
9 packets transmitted, 5 received, +1 duplicates, 44.4444% packet loss, time 80ms
rtt min/avg/max/mdev = 20.335/20.761/25.225/0.406 ms, pipe 3
`;

describe('parsePing', () => {
  it('reads transmitted count and per-sequence replies, duplicates included', () => {
    const s = parsePing(PING);
    expect(s.transmitted).toBe(9);
    expect([...s.replies.keys()].sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 8]);
    expect(s.replies.get(5)).toEqual([21.1, 21.3]);
    expect(duplicated(s)).toBe(1);
    expect(rtts(s)).toEqual([20.7, 20.4, 25.0, 21.1, 20.3]);
  });
  it('counts sequences without replies as lost, including trailing ones', () => {
    expect(lostSeqs(parsePing(PING))).toEqual([3, 6, 7, 9]);
  });
  it('refuses output without the summary (ping killed)', () => {
    expect(() => parsePing('64 bytes from x: icmp_seq=1 ttl=64 time=1 ms\n')).toThrow(/packets transmitted/);
  });
});

describe('reordering', () => {
  it('arrival order is the order of the reply lines; reordered counts arrivals below the highest seen', () => {
    const out = [3, 1, 2, 5, 4, 6].map((q) => `64 bytes from 10.77.0.2: icmp_seq=${q} ttl=64 time=2.${q} ms`).join('\n') +
      '\n\n--- 10.77.0.2 ping statistics ---\n7 packets transmitted, 6 received, 14% packet loss, time 6ms\n';
    expect(arrivalOrder(parsePing(out))).toEqual([3, 1, 2, 5, 4, 6]);
    expect(reordered([3, 1, 2, 5, 4, 6])).toBe(3);
    expect(reordered([1, 2, 4, 5, 7])).toBe(0); // losses are not reordering
    expect(reordered([])).toBe(0);
  });
});

describe('burstLengths', () => {
  it.each([
    [[], []],
    [[3], [1]],
    [[3, 6, 7, 9], [1, 2, 1]],
    [[1, 2, 3, 10, 11], [3, 2]],
  ])('%j -> %j', (lost, want) => {
    expect(burstLengths(lost)).toEqual(want);
  });
});

describe('quantile', () => {
  it('interpolates linearly', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.1)).toBeCloseTo(1.4);
    expect(() => quantile([], 0.5)).toThrow();
  });
});

describe('bounds', () => {
  it('binomial: p +/- z sd, the skewed side widened by (z^2 - 1)/6 (1 - 2p)/n, clamped to [0, 1]', () => {
    const b = binomialBounds(1000, 0.1, 4.5);
    expect(b.lo).toBeCloseTo(0.1 - 4.5 * Math.sqrt(0.09 / 1000), 9);
    expect(b.hi).toBeCloseTo(0.1 + 4.5 * Math.sqrt(0.09 / 1000) + ((4.5 ** 2 - 1) / 6) * 0.8 / 1000, 9);
    const mirrored = binomialBounds(1000, 0.9, 4.5);
    expect(mirrored.lo).toBeCloseTo(1 - b.hi, 9);
    expect(mirrored.hi).toBeCloseTo(1 - b.lo, 9);
    expect(binomialBounds(10, 0.01).lo).toBe(0);
    expect(binomialBounds(1000, 0.1).hi - 0.1).toBeGreaterThan(b.hi - 0.1); // default z = 5.3
  });
  it('binomial: the nlc case (n = 500, p = 0.19) fails a correct profile < 1e-7 of the time (exact tail)', () => {
    const n = 500;
    const p = 0.19;
    const b = binomialBounds(n, p);
    let logC = 0; // log C(n, k), built up from k = 0
    let outside = 0;
    for (let k = 0; k <= n; k++) {
      if (k > 0) logC += Math.log((n - k + 1) / k);
      if (!within(k / n, b)) outside += Math.exp(logC + k * Math.log(p) + (n - k) * Math.log(1 - p));
    }
    expect(outside).toBeLessThan(1e-7);
    expect(outside).toBeGreaterThan(0); // the bound is finite: a real deviation fails
  });
  it('Gilbert: stationary loss p/(p+r), mean burst 1/r, wider than binomial by the chain factor', () => {
    const g = gilbertBounds(2000, 0.02, 0.25);
    expect(g.expectedLoss).toBeCloseTo(0.02 / 0.27, 9);
    expect(g.expectedBurst).toBe(4);
    const bin = binomialBounds(2000, g.expectedLoss);
    expect(g.loss.hi - g.loss.lo).toBeGreaterThan(2 * (bin.hi - bin.lo));
  });
  it('Gilbert: the bounds separate a profile from its inverted parameters', () => {
    const right = gilbertBounds(2000, 0.02, 0.25);
    const inverted = gilbertBounds(2000, 0.25, 0.02);
    expect(within(right.expectedLoss, inverted.loss)).toBe(false);
    expect(within(right.expectedBurst, inverted.meanBurst)).toBe(false);
  });
  it('Gilbert: burst-mean bounds for the bursts seen widen as they get fewer, skewed to the high side', () => {
    const many = burstMeanBounds(200, 0.25);
    const few = burstMeanBounds(20, 0.25);
    expect(few.hi - few.lo).toBeGreaterThan(many.hi - many.lo);
    expect(many.hi - 4).toBeGreaterThan(4 - many.lo);
    // p/r inverted for the traffic case: bursts of ~20 are outside even for only 20 bursts.
    expect(within(20, few)).toBe(false);
    expect(within(4, few) && within(4, many)).toBe(true);
  });
});

// A baseline like the guest's: 500 RTTs around 0.26 ms, spread ~0.1 ms, with a few stalls.
function guestLike(n: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => 0.2 + 0.1 * r.next() + (i % 100 === 0 ? 3 : 0));
}
/** Box-Muller from the seeded generator. */
function normal(r: ReturnType<typeof seededRandom>): number {
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

describe('medianBand', () => {
  const base = guestLike(500, 1);
  const model = { addedMs: 40, netemStages: 1, lateMs: 4 };
  it('accepts the baseline shifted by the delay, and by the delay plus lateness up to one tick per stage', () => {
    const b = medianBand(base, guestLike(150, 2).map((x) => x + 40), model);
    expect(within(quantile(guestLike(150, 2), 0.5) + 40, b)).toBe(true);
    expect(within(quantile(guestLike(150, 3), 0.5) + 43.5, medianBand(base, guestLike(150, 3).map((x) => x + 43.5), model))).toBe(true);
  });
  it('rejects a delay that is short (netem is never early) or longer than delay + one tick + serialization', () => {
    const short = guestLike(150, 4).map((x) => x + 39.8);
    expect(within(quantile(short, 0.5), medianBand(base, short, model))).toBe(false);
    const long = guestLike(150, 5).map((x) => x + 44.6);
    expect(within(quantile(long, 0.5), medianBand(base, long, model))).toBe(false);
    // ... unless the frame's serialization at a slow rate accounts for it.
    expect(within(quantile(long, 0.5), medianBand(base, long, { ...model, serializationMs: 0.784 }))).toBe(true);
    // 10% off a 1000 ms delay (a unit slip, a wrong rounding) is far outside.
    const tenth = guestLike(150, 6).map((x) => x + 1100);
    expect(within(quantile(tenth, 0.5), medianBand(base, tenth, { addedMs: 1000, netemStages: 2, lateMs: 4 }))).toBe(false);
  });
  it('allows for ping printing RTTs of 100 ms and more in whole ms (1000.4 ms reads 1000)', () => {
    expect([pingResolutionMs(1000.4), pingResolutionMs(40.25), pingResolutionMs(2), pingResolutionMs(0.25)]).toEqual([1, 0.1, 0.01, 0.001]);
    const printed = guestLike(500, 8).map((x) => Math.round(x + 1000.15)); // true RTTs 1000.35..1000.45 -> "1000"
    expect(within(quantile(printed, 0.5), medianBand(base, printed, { addedMs: 1000, netemStages: 2, lateMs: 4 }))).toBe(true);
  });
  it('widens with smaller samples (k = z / (2 sqrt(n)) in quantile units)', () => {
    const wide = medianBand(base, guestLike(20, 7), { addedMs: 0, netemStages: 0, lateMs: 4 });
    const narrow = medianBand(base, guestLike(2000, 7), { addedMs: 0, netemStages: 0, lateMs: 4 });
    expect(wide.hi - wide.lo).toBeGreaterThan(narrow.hi - narrow.lo);
  });
});

describe('jitterShapeCut', () => {
  it('normalCdf matches tabulated values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1)).toBeCloseTo(0.841345, 5);
    expect(normalCdf(-1.4)).toBeCloseTo(0.080757, 5);
  });
  it('puts the cut between a fresh uniform table and a stale normal one, and separates simulated samples', () => {
    const base = guestLike(500, 11);
    const c = jitterShapeCut(base, { jitterMs: 10, slackMs: 4, lateMs: 4, n: 400 });
    expect(c.p1).toBeCloseTo(2 * (1 - normalCdf(1.4)), 6);
    expect(c.powerOk).toBe(true);
    const r = seededRandom(12);
    const p50 = quantile(base, 0.5);
    const draw = (shape: () => number): number => {
      const xs = Array.from({ length: 400 }, (_, i) => (base[i] as number) + 30 + shape() + 4 * r.next());
      return xs.filter((x) => x < p50 + 30 - 14 || x > p50 + 30 + 14).length / xs.length;
    };
    expect(draw(() => (2 * r.next() - 1) * 10)).toBeLessThanOrEqual(c.cut);
    expect(draw(() => 10 * normal(r))).toBeGreaterThan(c.cut);
  });
  it('says when n is too small to tell them apart', () => {
    expect(jitterShapeCut(guestLike(500, 13), { jitterMs: 10, slackMs: 4, lateMs: 4, n: 30 }).powerOk).toBe(false);
  });
});

describe('isSubsequence', () => {
  const log = ['base', 'p1', 'p2', 'p3', 'base'];
  it.each([
    [['p1', 'p2', 'p3', 'base'], true],
    [['base', 'p2', 'base'], true],
    [['base'], true],
    [['p2', 'p1'], false],
    [['p1', 'p3', 'p2'], false],
    [['base', 'p1', 'p2', 'p3', 'base', 'p1'], false],
  ])('%j in base, p1, p2, p3, base: %s', (xs, ok) => {
    expect(isSubsequence(xs, log)).toBe(ok);
  });
});
