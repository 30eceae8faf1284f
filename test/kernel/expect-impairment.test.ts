import { describe, expect, it } from 'vitest';
import type { Impairment } from '../../core/profile.js';
import { diffImpairment, rawNetemDiff } from './expect-impairment.js';

// `tc -j qdisc show` of `netem delay 40ms 5ms loss gemodel 2% 25% 90% 1%` in the kernel-tier guest.
const GE = { limit: 1000, delay: { delay: 0.04, jitter: 0.005, correlation: 0 }, 'loss-gemodel': { p: 0.02, r: 0.25, '1-h': 0.9, '1-k': 0.01 }, ecn: false, gap: 0 };

describe('rawNetemDiff', () => {
  it('accepts tc JSON that matches the impairment in tc units', () => {
    expect(rawNetemDiff(GE, { delayMs: 40, jitterMs: 5, limitPackets: 1000, loss: { model: 'gilbert-elliott', pPct: 2, rPct: 25, oneMinusHPct: 90, oneMinusKPct: 1 } })).toEqual([]);
  });
  it('catches an inverted 1-h and a unit slip', () => {
    const d = rawNetemDiff(GE, { delayMs: 0.04, jitterMs: 5, loss: { model: 'gilbert-elliott', pPct: 2, rPct: 25, oneMinusHPct: 10, oneMinusKPct: 1 } });
    expect(d.join('\n')).toMatch(/delay \(ms\): expected 0.04, tc shows 40/);
    expect(d.join('\n')).toMatch(/GE 1-h/);
  });
  it('reports stale fields tc still shows', () => {
    const stale = { ...GE, 'loss-gemodel': undefined, corrupt: { corrupt: 0.005, correlation: 0 }, reorder: { reorder: 0.02, correlation: 0 }, ecn: true };
    const d = rawNetemDiff(stale, { delayMs: 40, jitterMs: 5, limitPackets: 1000 });
    expect(d).toEqual(expect.arrayContaining([expect.stringMatching(/corrupt/), expect.stringMatching(/reorder/), expect.stringMatching(/ecn/)]));
  });
  it('defaults GE 1-h to 100% and 1-k to 0% as netem does', () => {
    const opts = { limit: 2500, 'loss-gemodel': { p: 0.02, r: 0.25, '1-h': 1, '1-k': 0 } };
    expect(rawNetemDiff(opts, { loss: { model: 'gilbert-elliott', pPct: 2, rPct: 25 } })).toEqual([]);
  });
  it('order: keep needs a netem rate at or above the profile rate; without it a netem rate is stale', () => {
    const kept = { ...GE, 'loss-gemodel': undefined, rate: { rate: 12_500_000_000, packetoverhead: 0, cellsize: 0, celloverhead: 0 } };
    const base = { delayMs: 40, jitterMs: 5, limitPackets: 1000 };
    expect(rawNetemDiff(kept, { ...base, keepOrder: true, rateKbit: 8000 })).toEqual([]);
    expect(rawNetemDiff(kept, base)).toEqual([expect.stringMatching(/netem rate of 100000000 kbit the profile does not have/)]);
    expect(rawNetemDiff({ ...kept, rate: { rate: 0 } }, { ...base, keepOrder: true })).toEqual([expect.stringMatching(/no netem rate: order: keep needs one/)]);
    expect(rawNetemDiff({ ...kept, rate: { rate: 125_000 } }, { ...base, keepOrder: true, rateKbit: 8000 })).toEqual([expect.stringMatching(/below the profile's 8000 kbit/)]);
  });
});

// `tc -j qdisc show` shape of raw-netem.ts's FULL_NETEM (`delay 20ms 5ms 25% distribution normal
// loss 1% 10% duplicate 1% 20% corrupt 0.5% 30% reorder 2% 40% gap 5 rate 50mbit 20 100 5 limit 5000
// slot 10ms 20ms packets 5 bytes 3000 ecn`), with every correlation set so each is checked.
const FULL = {
  limit: 5000, delay: { delay: 0.02, jitter: 0.005, correlation: 0.25 }, 'loss-random': { loss: 0.01, correlation: 0.1 }, ecn: true,
  duplicate: { duplicate: 0.01, correlation: 0.2 }, corrupt: { corrupt: 0.005, correlation: 0.3 }, reorder: { reorder: 0.02, correlation: 0.4 }, gap: 5,
  rate: { rate: 6_250_000, packetoverhead: 20, cellsize: 100, celloverhead: 5 }, slot: { 'min-delay': 0.01, 'max-delay': 0.02, packets: 5, bytes: 3000 },
};
const FULL_IMP: Impairment = {
  delayMs: 20, jitterMs: 5, delayCorrelationPct: 25, loss: { model: 'random', pct: 1, correlationPct: 10 }, ecn: true,
  duplicatePct: 1, duplicateCorrelationPct: 20, corruptPct: 0.5, corruptCorrelationPct: 30, reorderPct: 2, reorderCorrelationPct: 40, reorderGap: 5,
  rateKbit: 50_000, packetOverheadBytes: 20, cellSizeBytes: 100, cellOverheadBytes: 5, limitPackets: 5000,
  slot: { minDelayMs: 10, maxDelayMs: 20, packets: 5, bytes: 3000 },
};
// 4-state loss as tc prints `loss state 1% 20% 2% 80% 0.5%`.
const STATE = { limit: 1000, delay: { delay: 0.01, jitter: 0, correlation: 0 }, 'loss-state': { p13: 0.01, p31: 0.2, p32: 0.02, p23: 0.8, p14: 0.005 }, ecn: false, gap: 0 };
const STATE_IMP: Impairment = { delayMs: 10, limitPackets: 1000, loss: { model: '4-state', p13Pct: 1, p31Pct: 20, p32Pct: 2, p23Pct: 80, p14Pct: 0.5 } };

function set(o: Record<string, unknown>, path: string, v: unknown): Record<string, unknown> {
  const copy = structuredClone(o);
  const keys = path.split('.');
  let cur = copy;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string, unknown>;
  cur[keys.at(-1) as string] = v;
  return copy;
}

describe('rawNetemDiff: every field, each able to fail', () => {
  it('accepts the full netem and the 4-state one as tc prints them', () => {
    expect(rawNetemDiff(FULL, FULL_IMP)).toEqual([]);
    expect(rawNetemDiff(STATE, STATE_IMP)).toEqual([]);
  });
  it.each([
    ['delay.correlation', 0.5, /delay correlation/],
    ['loss-random.correlation', 0, /random loss correlation/],
    ['duplicate.correlation', 0, /duplicate correlation/],
    ['corrupt.correlation', 0.03, /corrupt correlation/],
    ['reorder.correlation', 0, /reorder correlation/],
    ['gap', 1, /reorder gap: expected 5, tc shows 1/],
    ['slot.max-delay', 0.01, /slot max \(ms\): expected 20, tc shows 10/],
    ['slot.bytes', 0, /slot bytes: expected 3000/],
    ['slot.packets', 7, /slot packets: expected 5, tc shows 7/],
    ['limit', 1000, /limit \(packets\): expected 5000, tc shows 1000/],
  ])('full netem with %s = %s is reported', (path, v, re) => {
    const d = rawNetemDiff(set(FULL, path, v), FULL_IMP);
    expect(d).toEqual([expect.stringMatching(re)]);
  });
  it.each([
    ['loss-state.p13', 0.2, /p13/],
    ['loss-state.p31', 0.01, /p31/],
    ['loss-state.p32', 0.8, /p32/],
    ['loss-state.p23', 0.02, /p23/],
    ['loss-state.p14', 0, /p14/],
  ])('4-state with %s = %s is reported (a swapped pair fails)', (path, v, re) => {
    expect(rawNetemDiff(set(STATE, path, v), STATE_IMP)).toEqual([expect.stringMatching(re)]);
  });
  it('uses iproute2 defaults: 4-state p31 = 100 - p13, p32 0, p23 100, p14 0; gap 1 for a reorder without one; slot max = min', () => {
    const st = { ...STATE, 'loss-state': { p13: 0.01, p31: 0.99, p32: 0, p23: 1, p14: 0 } };
    expect(rawNetemDiff(st, { delayMs: 10, limitPackets: 1000, loss: { model: '4-state', p13Pct: 1 } })).toEqual([]);
    const r = { limit: 1000, delay: { delay: 0.01, jitter: 0, correlation: 0 }, reorder: { reorder: 0.05, correlation: 0 }, gap: 1 };
    expect(rawNetemDiff(r, { delayMs: 10, limitPackets: 1000, reorderPct: 5 })).toEqual([]);
    expect(rawNetemDiff({ ...r, gap: 0 }, { delayMs: 10, limitPackets: 1000, reorderPct: 5 })).toEqual([expect.stringMatching(/reorder gap: expected 1/)]);
    const sl = { limit: 1000, slot: { 'min-delay': 0.01, 'max-delay': 0.01 } };
    expect(rawNetemDiff(sl, { limitPackets: 1000, slot: { minDelayMs: 10 } })).toEqual([]);
  });
  it('expects the limit core/limit.ts derives when the profile sets none, and ignores it when there is no netem', () => {
    // 1 Mbit/s, 500 ms: hold 520 ms -> 1.5 * 1e6 * 0.52 / 12000 = 65 packets -> the 1000 floor.
    expect(rawNetemDiff({ limit: 1000, delay: { delay: 0.5, jitter: 0, correlation: 0 } }, { delayMs: 500, rateKbit: 1000 })).toEqual([]);
    // No rate (1 Gbit/s assumed), 100 ms: hold 120 ms -> 15000 packets.
    expect(rawNetemDiff({ limit: 1000, delay: { delay: 0.1, jitter: 0, correlation: 0 } }, { delayMs: 100 })).toEqual([expect.stringMatching(/limit \(packets\): expected 15000, tc shows 1000/)]);
    expect(rawNetemDiff(undefined, {})).toEqual([]);
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
