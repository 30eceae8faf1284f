/**
 * Swapping a duplicating netem leaf: kernels that refuse "duplicating netems mixed with other
 * netems in tree" (Debian 6.1.x, seen in the kernel tier) need the old leaf deleted before the new
 * one is added; other swaps stay make-before-break.
 */
import { describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import { parseQdiscs, parseFilters } from '../../../agent/netem/tc-json.js';
import { planApply, planLines } from '../../../agent/netem/plan.js';
import type { LiveState } from '../../../agent/netem/live-state.js';
import { leafSwapNeedsGap } from '../../../agent/netem/netem-args.js';

function liveWithLeaf(options: Record<string, unknown>): LiveState {
  const qdiscs = [
    { kind: 'htb', handle: 'bac0:', root: true, options: { r2q: 10, default: '0x10' } },
    { kind: 'netem', handle: 'bac1:', parent: 'bac0:10', options: { limit: 1000, ...options } },
  ];
  return {
    dev: { qdiscs: parseQdiscs(JSON.stringify(qdiscs)), classes: [{ classid: 'bac0:10', rateBps: 1e11, ceilBps: 1e11 }], filters: parseFilters('[]'), ingressFilters: [] },
    ifb: null,
  };
}

const plain: Profile = { name: 'plain', description: 'p', egress: { delayMs: 30, jitterMs: 10 } };
const dup: Profile = { name: 'dup', description: 'd', egress: { delayMs: 30, jitterMs: 10, duplicatePct: 2 } };
const target = { kind: 'netem' as const, dev: 'eth0', direction: 'egress' as const };

describe('leaf swap with duplication', () => {
  it('deletes a duplicating live leaf before adding the fresh one', () => {
    const l = planLines(planApply(target, plain, liveWithLeaf({ delay: { delay: 0.03, jitter: 0.01, correlation: 0 }, duplicate: { duplicate: 0.02, correlation: 0 }, ecn: true }), { seedSupported: false }));
    const del = l.indexOf('tc qdisc del dev eth0 parent bac0:10 handle bac1:');
    const add = l.findIndex((x) => x.startsWith('tc qdisc add dev eth0 parent bac0:10 handle bac2: netem '));
    expect(del).toBeGreaterThanOrEqual(0);
    expect(add).toBeGreaterThan(del);
    expect(l.some((x) => x.startsWith('tc qdisc replace dev eth0 parent bac0:10 handle bac2:'))).toBe(false);
  });

  it('also when the new leaf duplicates', () => {
    const l = planLines(planApply(target, dup, liveWithLeaf({ delay: { delay: 0.03, jitter: 0.01, correlation: 0 }, ecn: true }), { seedSupported: false }));
    expect(l).toContain('tc qdisc del dev eth0 parent bac0:10 handle bac1:');
  });

  it('keeps make-before-break (replace at the other handle) when nothing duplicates', () => {
    const l = planLines(planApply(target, plain, liveWithLeaf({ delay: { delay: 0.03, jitter: 0.01, correlation: 0 }, ecn: true }), { seedSupported: false }));
    expect(l.some((x) => x.startsWith('tc qdisc replace dev eth0 parent bac0:10 handle bac2: netem '))).toBe(true);
    expect(l.some((x) => x.startsWith('tc qdisc del'))).toBe(false);
  });

  it.each([
    [{ kind: 'netem', handle: 'bac1:', duplicate: true }, ['netem', 'duplicate', '0%', '0%'], true],
    [{ kind: 'netem', handle: 'bac1:' }, ['netem', 'duplicate', '0.5%', '0%'], true],
    [{ kind: 'netem', handle: 'bac1:' }, ['netem', 'duplicate', '0%', '0%'], false],
    [{ kind: 'pfifo', handle: 'bac1:' }, ['netem', 'duplicate', '1%', '0%'], false],
  ])('leafSwapNeedsGap(%j, %j) = %s', (live, args, want) => {
    expect(leafSwapNeedsGap(live, { kind: args[0] as 'netem' | 'pfifo', args: args.slice(1), warnings: [] })).toBe(want);
  });
});
