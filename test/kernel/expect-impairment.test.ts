import { describe, expect, it } from 'vitest';
import { diffImpairment, rawNetemDiff } from './expect-impairment.js';

// `tc -j qdisc show` of `netem delay 40ms 5ms loss gemodel 2% 25% 90% 1%` in the kernel-tier guest.
const GE = { limit: 1000, delay: { delay: 0.04, jitter: 0.005, correlation: 0 }, 'loss-gemodel': { p: 0.02, r: 0.25, '1-h': 0.9, '1-k': 0.01 }, ecn: false, gap: 0 };

describe('rawNetemDiff', () => {
  it('accepts tc JSON that matches the impairment in tc units', () => {
    expect(rawNetemDiff(GE, { delayMs: 40, jitterMs: 5, loss: { model: 'gilbert-elliott', pPct: 2, rPct: 25, oneMinusHPct: 90, oneMinusKPct: 1 } })).toEqual([]);
  });
  it('catches an inverted 1-h and a unit slip', () => {
    const d = rawNetemDiff(GE, { delayMs: 0.04, jitterMs: 5, loss: { model: 'gilbert-elliott', pPct: 2, rPct: 25, oneMinusHPct: 10, oneMinusKPct: 1 } });
    expect(d.join('\n')).toMatch(/delay \(ms\): expected 0.04, tc shows 40/);
    expect(d.join('\n')).toMatch(/GE 1-h/);
  });
  it('reports stale fields tc still shows', () => {
    const stale = { ...GE, 'loss-gemodel': undefined, corrupt: { corrupt: 0.005, correlation: 0 }, reorder: { reorder: 0.02, correlation: 0 }, ecn: true };
    const d = rawNetemDiff(stale, { delayMs: 40, jitterMs: 5 });
    expect(d).toEqual(expect.arrayContaining([expect.stringMatching(/corrupt/), expect.stringMatching(/reorder/), expect.stringMatching(/ecn/)]));
  });
  it('defaults GE 1-h to 100% and 1-k to 0% as netem does', () => {
    const opts = { 'loss-gemodel': { p: 0.02, r: 0.25, '1-h': 1, '1-k': 0 } };
    expect(rawNetemDiff(opts, { loss: { model: 'gilbert-elliott', pPct: 2, rPct: 25 } })).toEqual([]);
  });
  it('order: keep needs a netem rate at or above the profile rate; without it a netem rate is stale', () => {
    const kept = { ...GE, 'loss-gemodel': undefined, rate: { rate: 12_500_000_000, packetoverhead: 0, cellsize: 0, celloverhead: 0 } };
    expect(rawNetemDiff(kept, { delayMs: 40, jitterMs: 5, keepOrder: true, rateKbit: 8000 })).toEqual([]);
    expect(rawNetemDiff(kept, { delayMs: 40, jitterMs: 5 })).toEqual([expect.stringMatching(/netem rate of 100000000 kbit the profile does not have/)]);
    expect(rawNetemDiff({ ...kept, rate: { rate: 0 } }, { delayMs: 40, jitterMs: 5, keepOrder: true })).toEqual([expect.stringMatching(/no netem rate: order: keep needs one/)]);
    expect(rawNetemDiff({ ...kept, rate: { rate: 125_000 } }, { delayMs: 40, jitterMs: 5, keepOrder: true, rateKbit: 8000 })).toEqual([expect.stringMatching(/below the profile's 8000 kbit/)]);
  });
});

describe('diffImpairment', () => {
  it('compares every field, tolerating tc rounding, and honours skip', () => {
    expect(diffImpairment({ delayMs: 40, loss: { model: 'random', pct: 1 } }, { delayMs: 40.000001, loss: { model: 'random', pct: 0.99999999 } })).toEqual([]);
    expect(diffImpairment({ delayMs: 40, distribution: 'normal' }, { delayMs: 40 })).toEqual(['distribution: expected "normal", read back undefined']);
    expect(diffImpairment({ delayMs: 40, distribution: 'normal' }, { delayMs: 40 }, ['distribution'])).toEqual([]);
    expect(diffImpairment({}, { corruptPct: 1 })).toEqual(['corruptPct: expected undefined, read back 1']);
  });
});
