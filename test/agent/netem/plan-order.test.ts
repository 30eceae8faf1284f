/**
 * `keepOrder` (YAML `order: keep`) in the netem plan: netem gets a rate (the kernel then takes the
 * last queued packet's send time as the reference, so jitter cannot reorder), shaping stays in htb,
 * status reads it back, and a profile without it leaves no stale netem rate behind.
 */
import { describe, expect, it } from 'vitest';
import type { Impairment, Profile } from '../../../core/profile.js';
import type { NetemTarget } from '../../../agent/backend.js';
import { emptyDevState, type LiveState } from '../../../agent/netem/live-state.js';
import { orderRateKbit, renderLeaf, UNLIMITED_RATE_KBIT } from '../../../agent/netem/netem-args.js';
import { netemOptionsToImpairment, readBack } from '../../../agent/netem/parse.js';
import { planApply, planLines, planPhase } from '../../../agent/netem/plan.js';
import { parseQdiscs } from '../../../agent/netem/tc-json.js';
import { parseProfile } from '../../../core/profile-parse.js';

const OPTS = { seedSupported: true };
const target: NetemTarget = { kind: 'netem', dev: 'eth0', direction: 'egress' };

function fresh(): LiveState {
  return { dev: { ...emptyDevState('noqueue'), ingressFilters: [] }, ifb: null };
}

/** Our tree as tc shows it, with a netem leaf whose `tc -j` options are `options`. */
function withNetem(options: Record<string, unknown>, classRateBps = 8e6): LiveState {
  return {
    dev: {
      qdiscs: parseQdiscs(JSON.stringify([
        { kind: 'htb', handle: 'bac0:', root: true, options: { r2q: 10, default: '0x10' } },
        { kind: 'netem', handle: 'bac1:', parent: 'bac0:10', options },
      ])),
      classes: [{ classid: 'bac0:10', rateBps: classRateBps, ceilBps: classRateBps }],
      filters: [],
      ingressFilters: [],
    },
    ifb: null,
  };
}

function profile(egress: Impairment, extra: Partial<Profile> = {}): Profile {
  return { name: 'p', description: 'd', egress, ...extra };
}

const rateArgs = (args: string[]): string[] => args.slice(args.indexOf('rate'), args.indexOf('rate') + 2);

describe('renderLeaf with keepOrder', () => {
  it('no rate: netem carries 100gbit, only for its ordering effect', () => {
    const leaf = renderLeaf({ delayMs: 20, jitterMs: 15, keepOrder: true }, OPTS);
    expect(rateArgs(leaf.args)).toEqual(['rate', '100000000kbit']);
  });

  it('an htb rate stays in htb; netem gets max(100gbit, the rate) so it never shapes below htb', () => {
    expect(rateArgs(renderLeaf({ delayMs: 20, jitterMs: 5, keepOrder: true, rateKbit: 8000 }, OPTS).args)).toEqual(['rate', '100000000kbit']);
    expect(orderRateKbit({ keepOrder: true, rateKbit: 4e8 })).toBe(4e8);
    expect(orderRateKbit({ keepOrder: true })).toBe(UNLIMITED_RATE_KBIT);
  });

  it('a rate netem already carries (overhead/cells) is rendered as is: netem keeps order under it anyway', () => {
    const leaf = renderLeaf({ delayMs: 20, keepOrder: true, rateKbit: 2000, packetOverheadBytes: 20 }, OPTS);
    expect(leaf.args.join(' ')).toContain('rate 2000kbit 20 0 0');
  });

  it('without keepOrder the rate is rendered explicitly as 0bit (clears a stale one)', () => {
    expect(rateArgs(renderLeaf({ delayMs: 20, jitterMs: 15 }, OPTS).args)).toEqual(['rate', '0bit']);
  });

  it('keepOrder alone needs no netem: a pfifo leaf is in order', () => {
    expect(renderLeaf({ keepOrder: true, rateKbit: 1000 }, OPTS).kind).toBe('pfifo');
  });
});

describe('planApply / planPhase with keepOrder', () => {
  it('class shapes at the configured rate, the leaf carries the order rate', () => {
    const l = planLines(planApply(target, profile({ delayMs: 25, jitterMs: 5, keepOrder: true, rateKbit: 8000 }), fresh(), OPTS));
    expect(l).toContain('tc class replace dev eth0 parent bac0: classid bac0:10 htb rate 8000kbit ceil 8000kbit burst 3028b cburst 3028b quantum 65536');
    expect(l.find((x) => x.includes(' netem '))).toMatch(/ reorder 0% 0% rate 100000000kbit$/);
  });

  it('replacing a kept-order profile by one without: a `change` with rate 0bit (no stale netem rate)', () => {
    // No jitter, so no distribution table can be stale: the leaf is changed in place, and only
    // the explicit `rate 0bit` takes the kernel's rate away (a change keeps what it is not sent).
    const live = withNetem({ limit: 1000, delay: { delay: 0.025, jitter: 0, correlation: 0 }, rate: { rate: 12_500_000_000 } });
    const l = planLines(planApply(target, profile({ delayMs: 25, rateKbit: 8000 }), live, OPTS));
    const leaf = l.find((x) => x.includes(' netem '));
    expect(leaf).toMatch(/^tc qdisc change dev eth0 parent bac0:10 handle bac1: netem .* rate 0bit$/);
  });

  it('a phase may drop it (order: any) and a later one bring it back', () => {
    const p = parseProfile({
      name: 'ph', description: 'd',
      egress: { delay: '20ms', jitter: '10ms', order: 'keep', rate: '8mbit' },
      schedule: { phases: [{ duration: '1s' }, { duration: '1s', egress: { order: 'any', reorder: '5%' } }, { duration: '1s', egress: { delay: '40ms' } }] },
    });
    const live = withNetem({ limit: 1000 });
    const rateOf = (i: number): string => planLines(planPhase(target, p, i, live, OPTS)).find((x) => x.includes(' netem '))!.replace(/.* rate /, 'rate ');
    expect(rateOf(0)).toBe('rate 100000000kbit');
    expect(rateOf(1)).toBe('rate 0bit');
    expect(rateOf(2)).toBe('rate 100000000kbit');
  });
});

describe('read back', () => {
  it('an order-only netem rate reads back as keepOrder, the rate from the htb class', () => {
    const rb = readBack(withNetem({ limit: 1000, delay: { delay: 0.025, jitter: 0.005, correlation: 0 }, rate: { rate: 12_500_000_000 } }).dev);
    expect(rb?.impairment).toEqual({ limitPackets: 1000, delayMs: 25, jitterMs: 5, keepOrder: true, rateKbit: 8000 });
  });

  it('no htb rate either: keepOrder and no rate', () => {
    const rb = readBack(withNetem({ limit: 1000, delay: { delay: 0.02, jitter: 0.015, correlation: 0 }, rate: { rate: 12_500_000_000 } }, 12.5e9 * 8).dev);
    expect(rb?.impairment).toEqual({ limitPackets: 1000, delayMs: 20, jitterMs: 15, keepOrder: true });
  });

  it('a real netem rate reads back as that rate, with keepOrder (the kernel keeps order under any netem rate)', () => {
    expect(netemOptionsToImpairment({ limit: 1000, rate: { rate: 250_000, packetoverhead: 20, cellsize: 0, celloverhead: 0 } }))
      .toEqual({ limitPackets: 1000, keepOrder: true, rateKbit: 2000, packetOverheadBytes: 20 });
  });

  it('rate 0: no keepOrder', () => {
    expect(netemOptionsToImpairment({ limit: 1000, delay: { delay: 0.02, jitter: 0.015, correlation: 0 }, rate: { rate: 0 } }).keepOrder).toBeUndefined();
  });

  it('plan -> tc JSON -> read back round trip of every bundled-style keep-order direction', () => {
    const imp: Impairment = { delayMs: 70, jitterMs: 40, keepOrder: true, rateKbit: 750, limitPackets: 1000 };
    const leaf = renderLeaf(imp, OPTS);
    const rateTok = leaf.args[leaf.args.indexOf('rate') + 1]!;
    expect(rateTok).toBe('100000000kbit');
    const bytesPerSec = (Number(rateTok.replace('kbit', '')) * 1000) / 8; // what tc -j prints
    const rb = readBack(withNetem({ limit: 1000, delay: { delay: 0.07, jitter: 0.04, correlation: 0 }, rate: { rate: bytesPerSec } }, 750_000).dev);
    expect(rb?.impairment).toEqual(imp);
  });
});
