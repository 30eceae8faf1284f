import { describe, expect, it } from 'vitest';
import { FakeClock, type Clock } from '../../core/clock.js';
import { anchor, createTimestamper, wallMsToNs } from '../../probe/timestamps.js';

/** A clock whose wall reads follow a script (then repeat the last), monotonic time +1 µs per read. */
function scriptedClock(walls: number[]): Clock & { reads: number } {
  let mono = 5_000_000_000n;
  const c = {
    reads: 0,
    wallMs: () => walls[Math.min(c.reads++, walls.length - 1)] as number,
    monoNs: () => (mono += 1000n),
    sleep: () => Promise.resolve(),
  };
  return c;
}

describe('wallMsToNs', () => {
  it('is exact for integers at today\'s epoch and rounds fractions to the ns', () => {
    expect(wallMsToNs(1_764_000_000_123)).toBe(1_764_000_000_123_000_000n);
    expect(wallMsToNs(1_700_000_000_000.25)).toBe(1_700_000_000_000_250_000n);
    expect(wallMsToNs(0.0000004)).toBe(0n);
  });
});

describe('anchor', () => {
  it('does not crash when the first wall read is an integer and the next a fraction', () => {
    // Previously BigInt(1700000000000.5) threw a RangeError.
    const c = scriptedClock([1_700_000_000_000, 1_700_000_000_000.5]);
    const a = anchor(c);
    expect(a.anchorUnixNs).toBe(1_700_000_000_000_500_000n);
    expect(a.uncertaintyNs).toBe(0);
  });

  it('anchors an integer clock at the tick edge, bracketed by the monotonic reads', () => {
    const c = scriptedClock([1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001]);
    const a = anchor(c);
    expect(a.anchorUnixNs).toBe(1_700_000_000_001_000_000n);
    expect(a.uncertaintyNs).toBeGreaterThan(0);
  });

  it('takes a FakeClock (fractional wall time) as is', () => {
    const clock = new FakeClock(1_700_000_000_000, 1_500_000n); // wall = base + 1.5 ms
    const ts = createTimestamper(clock);
    expect(ts.unixNsAt(clock.monoNs())).toBe(1_700_000_000_001_500_000n);
    expect(ts.anchorUncertaintyNs).toBe(0);
  });

  it('a FakeClock whose wall time is an integer on one read and a fraction on the next', async () => {
    const clock = new FakeClock(1_700_000_000_000, 0n); // first read: an integer
    let reads = 0;
    const mixed: Clock = {
      wallMs: () => {
        const w = clock.wallMs();
        reads++;
        clock.advance(0.25).catch(() => undefined); // time moves between reads: the next one has a fraction
        return w;
      },
      monoNs: () => clock.monoNs(),
      sleep: (ms, s) => clock.sleep(ms, s),
    };
    const ts = createTimestamper(mixed);
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(typeof ts.unixNsAt(clock.monoNs())).toBe('bigint');
  });
});
