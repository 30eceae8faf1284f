import { describe, expect, it } from 'vitest';
import {
  geFromLossAndBurst,
  geMeanBadRunPackets,
  geMeanBurstPackets,
  geMeanLossPct,
  meanBurstPackets,
  meanLossPct,
} from '../../core/gilbert-elliott.js';
import type { GilbertElliottLoss } from '../../core/profile.js';

const ge = (pPct: number, rPct: number, oneMinusHPct?: number, oneMinusKPct?: number): GilbertElliottLoss => ({
  model: 'gilbert-elliott',
  pPct,
  rPct,
  ...(oneMinusHPct === undefined ? {} : { oneMinusHPct }),
  ...(oneMinusKPct === undefined ? {} : { oneMinusKPct }),
});

describe('Gilbert-Elliott mean loss: p/(p+r)(1-h) + r/(p+r)(1-k)', () => {
  it.each([
    // hand-computed: 0.005/0.255 = 1.960784%
    [ge(0.5, 25, 100, 0), 1.960784],
    // 0.005/0.205*0.8 + 0.2/0.205*0.001 = 0.0195122 + 0.00097561
    [ge(0.5, 20, 80, 0.1), 2.04878],
    // 0.01/0.31*0.5 + 0.3/0.31*0.001
    [ge(1, 30, 50, 0.1), 1.709677],
    // 0.002/0.302*0.9 + 0.3/0.302*0.0005
    [ge(0.2, 30, 90, 0.05), 0.645695],
    // netem defaults 1-h = 100%, 1-k = 0%: 0.05/0.55
    [ge(5, 50), 9.090909],
    // never leaves Good: the Good-state loss
    [ge(0, 0, 100, 0.5), 0.5],
  ])('%j -> %d%%', (model, pct) => {
    expect(geMeanLossPct(model)).toBeCloseTo(pct, 5);
    expect(meanLossPct(model)).toBeCloseTo(pct, 5);
  });
});

describe('Gilbert-Elliott mean burst length', () => {
  it('is 1/r for the Gilbert model (1-h = 100%, 1-k = 0%)', () => {
    expect(geMeanBurstPackets(ge(0.5, 25, 100, 0))).toBeCloseTo(4, 9);
    expect(geMeanBurstPackets(ge(0.05, 50))).toBeCloseTo(2, 9);
    expect(geMeanBadRunPackets(ge(0.5, 25))).toBe(4);
  });

  it('counts runs of lost packets when both states lose some (hand-computed)', () => {
    // P(loss) = 0.0204878; P(loss, next kept) = 0.00097561*(0.995*0.999 + 0.005*0.2) + 0.0195122*(0.2*0.999 + 0.8*0.2)
    //         = 0.00097073 + 0.00702049 = 0.00799122 -> 2.56380
    expect(geMeanBurstPackets(ge(0.5, 20, 80, 0.1))).toBeCloseTo(2.5638, 3);
  });
});

describe('geFromLossAndBurst (the inverse)', () => {
  it('gives r = 1/burst and p = rL/(1-L), and round-trips', () => {
    const m = geFromLossAndBurst(2, 4);
    expect(m.rPct).toBeCloseTo(25, 9);
    expect(m.pPct).toBeCloseTo(0.510204, 5);
    expect(m.oneMinusHPct).toBe(100);
    expect(m.oneMinusKPct).toBe(0);
    expect(geMeanLossPct(m)).toBeCloseTo(2, 9);
    expect(geMeanBurstPackets(m)).toBeCloseTo(4, 9);
  });

  it('refuses the impossible', () => {
    expect(() => geFromLossAndBurst(100, 4)).toThrow(RangeError);
    expect(() => geFromLossAndBurst(2, 0.5)).toThrow(RangeError);
    expect(() => geFromLossAndBurst(60, 1)).toThrow('60% in bursts of 1 needs p above 100%');
  });
});

describe('other loss models', () => {
  it('random: mean = pct, mean burst = 1/(1-p)', () => {
    expect(meanLossPct({ model: 'random', pct: 1 })).toBe(1);
    expect(meanBurstPackets({ model: 'random', pct: 1 })).toBeCloseTo(1 / 0.99, 12);
    expect(meanBurstPackets({ model: 'random', pct: 100 })).toBe(Infinity);
  });

  it('4-state: states 1 <-> 3 only (p13 10%, p31 50%): loss 1/6, bursts of 2', () => {
    const l = { model: '4-state' as const, p13Pct: 10, p31Pct: 50 };
    expect(meanLossPct(l)).toBeCloseTo(100 / 6, 6);
    expect(meanBurstPackets(l)).toBeCloseTo(2, 6);
  });

  it('4-state: isolated losses via state 4 (p14 5%): loss 0.05/1.05, bursts of 1', () => {
    const l = { model: '4-state' as const, p13Pct: 0, p14Pct: 5 };
    expect(meanLossPct(l)).toBeCloseTo((100 * 0.05) / 1.05, 6);
    expect(meanBurstPackets(l)).toBeCloseTo(1, 6);
  });
});
