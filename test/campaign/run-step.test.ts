import { describe, expect, it } from 'vitest';
import { attributeLoss } from '../../campaign/run-step.js';
import type { ProbeTick } from '../../campaign/result.js';

const ticks = (): ProbeTick[] => [1000, 2000, 3000, 4000, 5000].map((tMs) => ({ tMs, sent: 50, lost: 0, p50Ms: 1, p99Ms: 2 }));

describe('attributeLoss', () => {
  it('books lost probes on the tick of their send time (now - timeout)', () => {
    const t = ticks();
    attributeLoss(t, 7, 5000 - 2000); // counted at 5000 with a 2 s timeout: sent in (2000, 3000]
    expect(t.map((x) => x.lost)).toEqual([0, 0, 7, 0, 0]);
    attributeLoss(t, 3, 2500);
    expect(t.map((x) => x.lost)).toEqual([0, 0, 10, 0, 0]);
    attributeLoss(t, 2, -5000); // before the first tick: the first one
    expect(t[0]!.lost).toBe(2);
    attributeLoss(t, 0, 4000);
    expect(t.reduce((a, x) => a + x.lost, 0)).toBe(12);
  });
});
