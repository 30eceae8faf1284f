import { describe, expect, it } from 'vitest';
import { offsetFromSamples } from '../../campaign/clock-offset.js';

const ms = (x: number): bigint => BigInt(Math.round(x * 1e6));

describe('offsetFromSamples', () => {
  it('NTP on-wire formula; the exchange with the smallest delay wins', () => {
    // agent clock is 50 ms ahead; one-way 2 ms each way, 0.1 ms dwell
    const good = { t1: ms(1000), t2: ms(1000 + 2 + 50), t3: ms(1000 + 2.1 + 50), t4: ms(1000 + 4.1) };
    // a queued exchange: 10 ms out, 2 ms back
    const queued = { t1: ms(2000), t2: ms(2000 + 10 + 50), t3: ms(2000 + 10.1 + 50), t4: ms(2000 + 12.1) };
    const e = offsetFromSamples([queued, good])!;
    expect(e.offsetMs).toBeCloseTo(50, 6);
    expect(e.uncertaintyMs).toBeCloseTo(2, 6);
    expect(e.samples).toBe(2);
  });
  it('null without usable samples', () => {
    expect(offsetFromSamples([])).toBeNull();
    expect(offsetFromSamples([{ t1: ms(10), t2: ms(5), t3: ms(20), t4: ms(11) }])).toBeNull();
  });
});
