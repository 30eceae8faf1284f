import { describe, expect, it } from 'vitest';
import { arrivalOrder, binomialBounds, burstLengths, duplicated, gilbertBounds, lostSeqs, parsePing, quantile, reordered, rtts, within } from './measure.js';

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
  it('binomial: p +/- z sd, clamped to [0, 1]', () => {
    const b = binomialBounds(1000, 0.1, 4.5);
    expect(b.lo).toBeCloseTo(0.1 - 4.5 * Math.sqrt(0.09 / 1000), 9);
    expect(b.hi).toBeCloseTo(0.1 + 4.5 * Math.sqrt(0.09 / 1000), 9);
    expect(binomialBounds(10, 0.01).lo).toBe(0);
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
});
