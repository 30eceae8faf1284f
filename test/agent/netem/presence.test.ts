/**
 * presenceOf: an impairment is in effect only when every part its apply installs is there. The
 * reconciler relies on it to see a recreated interface (our IFB survives it) and a removed root or
 * ingress qdisc (the rest of our tree survives those).
 */
import { describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import type { NetemTarget } from '../../../agent/backend.js';
import { emptyDevState, type DevTcState, type LiveState } from '../../../agent/netem/live-state.js';
import { ifbNameFor } from '../../../agent/netem/names.js';
import { presenceOf } from '../../../agent/netem/presence.js';
import { parseQdiscs } from '../../../agent/netem/tc-json.js';

const both: Profile = { name: 'both', description: 'b', egress: { rateKbit: 2000 }, ingress: { rateKbit: 2000 } };
const egressOnly: Profile = { name: 'eg', description: 'e', egress: { rateKbit: 2000 } };
const ifb = ifbNameFor('veth0', 'ns1');
const target = (over: Partial<NetemTarget> = {}): NetemTarget => ({ kind: 'netem', dev: 'veth0', netns: 'ns1', direction: 'both', ...over });

function tree(extra: unknown[] = []): DevTcState {
  return {
    qdiscs: parseQdiscs(JSON.stringify([
      { kind: 'htb', handle: 'bac0:', root: true, options: {} },
      { kind: 'pfifo', handle: 'bac1:', parent: 'bac0:10', options: { limit: 1000 } },
      ...extra,
    ])),
    classes: [{ classid: 'bac0:10', rateBps: 2e6, ceilBps: 2e6 }],
    filters: [],
  };
}

/** What a full apply of an ingress+egress profile leaves, as readLiveState returns it. */
function full(): LiveState {
  return {
    dev: {
      ...tree([{ kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} }]),
      ingressFilters: [{ protocol: 'all', pref: 49152, kind: 'u32', keys: [], actions: [{ kind: 'mirred', toDev: ifb }] }],
    },
    ifb: { name: ifb, alias: 'backhaul-ifb dev=veth0 ingress-qdisc=ours', ...tree() },
  };
}

describe('presenceOf', () => {
  it('complete after a full apply', () => {
    expect(presenceOf(target(), both, full())).toEqual({ complete: true, missing: [] });
  });

  it('a recreated interface (bare device, our IFB still there) is not in effect', () => {
    const s = full();
    s.dev = { ...emptyDevState('noqueue'), ingressFilters: [] };
    const p = presenceOf(target(), both, s);
    expect(p.complete).toBe(false);
    expect(p.missing).toEqual(['htb bac0: on veth0', 'ingress qdisc on veth0']);
  });

  it('only the ingress qdisc removed (its filters go with it) is not in effect', () => {
    const s = full();
    s.dev = { ...tree(), ingressFilters: [] };
    expect(presenceOf(target(), both, s)).toEqual({ complete: false, missing: ['ingress qdisc on veth0'] });
  });

  it('only the root removed is not in effect', () => {
    const s = full();
    s.dev.qdiscs = s.dev.qdiscs.filter((q) => q.kind === 'ingress');
    s.dev.classes = [];
    expect(presenceOf(target(), both, s)).toEqual({ complete: false, missing: ['htb bac0: on veth0'] });
  });

  it('our redirect removed from a shared ingress qdisc, the IFB tree or the IFB itself gone: not in effect', () => {
    const noRedirect = full();
    noRedirect.dev.ingressFilters = [];
    expect(presenceOf(target(), both, noRedirect).missing).toEqual([`redirect to ${ifb} on veth0's ingress`]);
    const noIfbTree = full();
    noIfbTree.ifb = { name: ifb, alias: 'backhaul-ifb dev=veth0 ingress-qdisc=ours', ...emptyDevState('pfifo_fast') };
    expect(presenceOf(target(), both, noIfbTree).missing).toEqual([`htb bac0: on ${ifb} (IFB)`]);
    const noIfb = full();
    noIfb.ifb = null;
    expect(presenceOf(target(), both, noIfb).missing).toEqual([`IFB ${ifb}`]);
    const foreignIfb = full();
    foreignIfb.ifb = { ...foreignIfb.ifb!, alias: 'backhaul-ifb dev=other0 ingress-qdisc=ours' };
    expect(presenceOf(target(), both, foreignIfb).complete).toBe(false);
  });

  it('a leaf or class missing under our htb is not in effect', () => {
    const s = full();
    s.dev.qdiscs = s.dev.qdiscs.filter((q) => q.handle !== 'bac1:');
    expect(presenceOf(target(), both, s).missing).toEqual(['leaf under bac0:10 on veth0']);
    const c = full();
    c.ifb!.classes = [];
    expect(presenceOf(target(), both, c).missing).toEqual([`class bac0:10 on ${ifb} (IFB)`]);
  });

  it('only the directions the profile impairs on this target are expected', () => {
    const s = full();
    s.dev.qdiscs = s.dev.qdiscs.filter((q) => q.kind === 'ingress');
    s.dev.classes = [];
    // ingress only: the egress root is not ours to expect
    expect(presenceOf(target({ direction: 'ingress' }), both, s).complete).toBe(true);
    // an egress-only profile on direction both expects no ingress parts
    const e: LiveState = { dev: { ...tree(), ingressFilters: [] }, ifb: null };
    expect(presenceOf(target(), egressOnly, e).complete).toBe(true);
    expect(presenceOf(target({ direction: 'egress' }), both, { ...full(), ifb: null }).complete).toBe(true);
  });
});
