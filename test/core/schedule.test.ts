import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import type { Profile, Schedule } from '../../core/profile.js';
import { parseProfile } from '../../core/profile-parse.js';
import { seededRandom, type Random } from '../../core/random.js';
import {
  applyPatch,
  createTimeline,
  cycleBoundsMs,
  drawDurationMs,
  effectiveImpairment,
  TimelineCursor,
  timelineUntil,
  usesDirection,
} from '../../core/schedule.js';

/** A Random that replays the given values (fails loudly if asked for more). */
function scripted(values: number[]): Random {
  let i = 0;
  return {
    next: () => {
      const v = values[i++];
      if (v === undefined) throw new Error('scripted random exhausted');
      return v;
    },
    nextU32: () => 0,
  };
}

const base: Profile = parseProfile({
  name: 'merge',
  description: 'd',
  egress: { delay: '20ms', jitter: '5ms', distribution: 'normal', loss: '1%', rate: '8mbit', overhead: 20 },
  schedule: {
    phases: [
      { name: 'empty', duration: '1s' },
      { name: 'outage', duration: '1s', egress: { loss: '100%' }, ingress: { loss: '100%' } },
      { name: 'no-delay', duration: '1s', egress: { delay: 'none', rate: 'none' } },
      { name: 'swap-loss', duration: '1s', egress: { loss: { model: 'gilbert-elliott', p: '1%', r: '30%' }, delay: '60ms' } },
    ],
  },
});

describe('merge semantics', () => {
  it('an empty phase is the base; null is the base too', () => {
    expect(effectiveImpairment(base, 0, 'egress')).toEqual(base.egress);
    expect(effectiveImpairment(base, null, 'egress')).toEqual(base.egress);
  });

  it('a field set in a phase replaces the base field; others are kept', () => {
    expect(effectiveImpairment(base, 1, 'egress')).toEqual({ ...base.egress, loss: { model: 'random', pct: 100 } });
    expect(effectiveImpairment(base, 3, 'egress')).toEqual({
      delayMs: 60,
      jitterMs: 5,
      distribution: 'normal',
      loss: { model: 'gilbert-elliott', pPct: 1, rPct: 30 },
      rateKbit: 8000,
      packetOverheadBytes: 20,
    });
  });

  it('`none` removes the field and what depends on it', () => {
    expect(effectiveImpairment(base, 2, 'egress')).toEqual({ loss: { model: 'random', pct: 1 } });
  });

  it('a direction absent from the base but set in a phase is impaired only in that phase', () => {
    expect(usesDirection(base, 'ingress')).toBe(true);
    expect(effectiveImpairment(base, null, 'ingress')).toEqual({});
    expect(effectiveImpairment(base, 0, 'ingress')).toEqual({});
    expect(effectiveImpairment(base, 1, 'ingress')).toEqual({ loss: { model: 'random', pct: 100 } });
  });

  it('a direction the profile never touches is undefined (leave it alone)', () => {
    const p = parseProfile({ name: 'e', description: 'd', egress: { delay: '5ms' } });
    expect(usesDirection(p, 'ingress')).toBe(false);
    expect(effectiveImpairment(p, null, 'ingress')).toBeUndefined();
    expect(() => effectiveImpairment(p, 0, 'egress')).toThrow(RangeError);
  });

  it('applyPatch does not modify its inputs', () => {
    const b = { delayMs: 5 };
    const patch = { delayMs: null, rateKbit: 10 };
    expect(applyPatch(b, patch)).toEqual({ rateKbit: 10 });
    expect(b).toEqual({ delayMs: 5 });
    expect(patch).toEqual({ delayMs: null, rateKbit: 10 });
  });
});

const sched = (s: Partial<Schedule> & Pick<Schedule, 'phases'>): Schedule => ({ loop: true, ...s });

describe('createTimeline', () => {
  it('loops fixed phases back to back from the start', () => {
    const s = sched({ phases: [{ durationMs: 100 }, { durationMs: 50 }] });
    expect(timelineUntil(s, 1000, scripted([]), 1300)).toEqual([
      { phaseIndex: 0, startMs: 1000, endMs: 1100, iteration: 0 },
      { phaseIndex: 1, startMs: 1100, endMs: 1150, iteration: 0 },
      { phaseIndex: 0, startMs: 1150, endMs: 1250, iteration: 1 },
      { phaseIndex: 1, startMs: 1250, endMs: 1300, iteration: 1 },
    ]);
  });

  it('draws random durations from the injected Random, uniformly in [min, max], in timeline order', () => {
    const s = sched({ phases: [{ durationMs: { minMs: 30_000, maxMs: 90_000 } }, { durationMs: 1000 }] });
    const segs = timelineUntil(s, 0, scripted([0, 0.5, 0.999999]), 160_000);
    expect(segs.map((x) => [x.phaseIndex, x.startMs, x.endMs])).toEqual([
      [0, 0, 30_000],
      [1, 30_000, 31_000],
      [0, 31_000, 91_000],
      [1, 91_000, 92_000],
      [0, 92_000, 182_000],
    ]);
  });

  it('random durations stay within bounds and are reproducible by seed', () => {
    const s = sched({ phases: [{ durationMs: { minMs: 150, maxMs: 900 } }] });
    const a = timelineUntil(s, 0, seededRandom(7), 500_000);
    const b = timelineUntil(s, 0, seededRandom(7), 500_000);
    expect(a).toEqual(b);
    expect(a.length).toBeGreaterThan(500);
    for (const seg of a) {
      const d = seg.endMs - seg.startMs;
      expect(d).toBeGreaterThanOrEqual(150);
      expect(d).toBeLessThanOrEqual(900);
      expect(Number.isInteger(d)).toBe(true);
    }
    // uniform: the mean of n draws is within 4 standard errors of (150 + 900) / 2
    const n = a.length;
    const mean = a.reduce((acc, seg) => acc + seg.endMs - seg.startMs, 0) / n;
    const sd = 750 / Math.sqrt(12);
    expect(Math.abs(mean - 525)).toBeLessThan((4 * sd) / Math.sqrt(n));
  });

  it('aligns every iteration to wall-clock multiples, with the base filling the gap', () => {
    const s = sched({ alignMs: 15_000, phases: [{ durationMs: 100 }, { durationMs: 900 }, { durationMs: 13_000 }] });
    const start = 1_700_000_007_300; // not on a 15 s boundary
    const first = Math.ceil(start / 15_000) * 15_000;
    expect(first % 15_000).toBe(0);
    const segs = timelineUntil(s, start, scripted([]), first + 30_000);
    expect(segs).toEqual([
      { phaseIndex: null, startMs: start, endMs: first, iteration: -1 },
      { phaseIndex: 0, startMs: first, endMs: first + 100, iteration: 0 },
      { phaseIndex: 1, startMs: first + 100, endMs: first + 1000, iteration: 0 },
      { phaseIndex: 2, startMs: first + 1000, endMs: first + 14_000, iteration: 0 },
      { phaseIndex: null, startMs: first + 14_000, endMs: first + 15_000, iteration: 0 },
      { phaseIndex: 0, startMs: first + 15_000, endMs: first + 15_100, iteration: 1 },
      { phaseIndex: 1, startMs: first + 15_100, endMs: first + 16_000, iteration: 1 },
      { phaseIndex: 2, startMs: first + 16_000, endMs: first + 29_000, iteration: 1 },
      { phaseIndex: null, startMs: first + 29_000, endMs: first + 30_000, iteration: 1 },
    ]);
  });

  it('starts at once when the start is already on an alignment boundary', () => {
    const s = sched({ alignMs: 15_000, phases: [{ durationMs: 15_000 }] });
    expect(timelineUntil(s, 45_000, scripted([]), 75_000)).toEqual([
      { phaseIndex: 0, startMs: 45_000, endMs: 60_000, iteration: 0 },
      { phaseIndex: 0, startMs: 60_000, endMs: 75_000, iteration: 1 },
    ]);
  });

  it('a one-shot schedule ends in an open tail of the base or of the last phase', () => {
    const phases = [{ durationMs: 30_000 }, { durationMs: { minMs: 150, maxMs: 900 } }];
    const tailBase = [...createTimeline({ loop: false, tail: 'base', phases }, 0, scripted([0.5]))];
    expect(tailBase).toEqual([
      { phaseIndex: 0, startMs: 0, endMs: 30_000, iteration: 0 },
      { phaseIndex: 1, startMs: 30_000, endMs: 30_525, iteration: 0 },
      { phaseIndex: null, startMs: 30_525, endMs: Infinity, iteration: 0 },
    ]);
    const tailLast = [...createTimeline({ loop: false, tail: 'last', phases }, 0, scripted([0]))];
    expect(tailLast.at(-1)).toEqual({ phaseIndex: 1, startMs: 30_150, endMs: Infinity, iteration: 0 });
  });

  it('drawDurationMs returns fixed durations untouched', () => {
    expect(drawDurationMs(1234, scripted([]))).toBe(1234);
    expect(drawDurationMs({ minMs: 10, maxMs: 20 }, scripted([0.25]))).toBe(13); // 12.5 rounds to 13
  });

  it('cycleBoundsMs sums the shortest and longest pass', () => {
    expect(cycleBoundsMs(sched({ phases: [{ durationMs: 100 }, { durationMs: { minMs: 10, maxMs: 20 } }] }))).toEqual({ minMs: 110, maxMs: 120 });
  });
});

describe('TimelineCursor driven by a FakeClock', () => {
  it('reports the segment in effect as time advances, skipping whole segments when asked late', async () => {
    const clock = new FakeClock(1_000_000);
    const s = sched({ alignMs: 1000, phases: [{ durationMs: 200 }, { durationMs: 300 }] });
    const cur = new TimelineCursor(s, clock.wallMs(), scripted([]));
    const seen: (number | null)[] = [];
    seen.push(cur.at(clock.wallMs()).phaseIndex); // 1_000_000 is aligned: phase 0
    await clock.advance(250);
    seen.push(cur.at(clock.wallMs()).phaseIndex); // 250 ms: phase 1
    await clock.advance(300);
    seen.push(cur.at(clock.wallMs()).phaseIndex); // 550 ms: base (gap until 1000)
    await clock.advance(1500);
    const seg = cur.at(clock.wallMs()); // 2050 ms: iteration 2, phase 0
    seen.push(seg.phaseIndex);
    expect(seen).toEqual([0, 1, null, 0]);
    expect(seg).toEqual({ phaseIndex: 0, startMs: 1_002_000, endMs: 1_002_200, iteration: 2 });
  });

  it('stays in a one-shot tail forever', () => {
    const cur = new TimelineCursor({ loop: false, tail: 'base', phases: [{ durationMs: 10 }] }, 0, scripted([]));
    expect(cur.at(5).phaseIndex).toBe(0);
    expect(cur.at(1e12)).toEqual({ phaseIndex: null, startMs: 10, endMs: Infinity, iteration: 0 });
  });
});
