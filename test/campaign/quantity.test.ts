import { describe, expect, it } from 'vitest';
import { formatMs, formatRatio, parseDurationMs } from '../../campaign/quantity.js';

describe('quantities', () => {
  it.each([
    ['250ms', 250],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['500us', 0.5],
    ['1h', 3_600_000],
    ['0', 0],
    [' 10 s ', 10_000],
  ])('parseDurationMs(%j) = %d', (t, v) => expect(parseDurationMs(t)).toBeCloseTo(v, 9));
  it.each(['', '5', '1x', '-1s', 's', '1.s'])('refuses %j', (t) => expect(parseDurationMs(t)).toBeNull());
  it('formats', () => {
    expect([formatMs(0.25), formatMs(12.34), formatMs(612), formatMs(12_345), formatMs(null)]).toEqual(['250 us', '12.3 ms', '612 ms', '12.35 s', '-']);
    expect([formatRatio(0.0052), formatRatio(0.2), formatRatio(undefined)]).toEqual(['0.52%', '20.0%', '-']);
  });
});

import { anchoredClock } from '../../campaign/sites/in-process.js';
describe('anchoredClock', () => {
  it('advances with the monotonic clock and never returns an integer (the probe timestamper takes sub-ms clocks as is)', async () => {
    const c = anchoredClock();
    const a = c.wallMs();
    await new Promise((r) => setTimeout(r, 20));
    const b = c.wallMs();
    expect(b - a).toBeGreaterThanOrEqual(19);
    for (let i = 0; i < 10_000; i++) expect(Number.isInteger(c.wallMs())).toBe(false);
  });
});
