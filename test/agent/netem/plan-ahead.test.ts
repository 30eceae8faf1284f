import { describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import type { NetemTarget } from '../../../agent/backend.js';
import { emptyDevState, type LiveState } from '../../../agent/netem/live-state.js';
import { planApply, planLines, planRevert } from '../../../agent/netem/plan.js';
import { planRevertAhead } from '../../../agent/netem/plan-ahead.js';
import { ifbNameFor } from '../../../agent/netem/names.js';
import { parseFilters, parseQdiscs } from '../../../agent/netem/tc-json.js';
import { isBackhaulError } from '../../../core/errors.js';

const OPTS = { seedSupported: true };
const both: Profile = { name: 'both', description: 'b', egress: { rateKbit: 5000 }, ingress: { rateKbit: 2000 } };
const egressOnly: Profile = { name: 'eg', description: 'e', egress: { rateKbit: 5000 } };
const t = (over: Partial<NetemTarget> = {}): NetemTarget => ({ kind: 'netem', dev: 'eth0', direction: 'both', ...over });
const fresh = (): LiveState => ({ dev: { ...emptyDevState('noqueue'), ingressFilters: [] }, ifb: null });
const ifb = ifbNameFor('eth0');

describe('planRevertAhead (write-ahead revert plan)', () => {
  it('undoes a full apply on a bare interface, deleting our htb only by its handle', () => {
    expect(planLines(planRevertAhead(t(), both, fresh(), OPTS))).toEqual([
      'tc qdisc del dev eth0 root handle bac0:',
      'tc filter del dev eth0 parent ffff: protocol all prio 49152',
      'tc qdisc del dev eth0 ingress',
      `ip link del dev ${ifb}`,
    ]);
  });

  it('leaves a foreign ingress qdisc (and its filters) alone: only our redirect and IFB go', () => {
    const s = fresh();
    s.dev.qdiscs = parseQdiscs(JSON.stringify([{ kind: 'noqueue', handle: '0:', root: true, options: {} }, { kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} }]));
    s.dev.ingressFilters = parseFilters(JSON.stringify([{ parent: 'ffff:', protocol: 'ip', pref: 7, kind: 'u32', options: {} }]));
    expect(planLines(planRevertAhead(t(), both, s, OPTS))).toEqual([
      'tc qdisc del dev eth0 root handle bac0:',
      'tc filter del dev eth0 parent ffff: protocol all prio 49152',
      `ip link del dev ${ifb}`,
    ]);
  });

  it('under a foreign netem/tbf root, deletes or restores the graft by handle, never the root', () => {
    const s = fresh();
    s.dev.qdiscs = parseQdiscs(JSON.stringify([{ kind: 'tbf', handle: '1:', root: true, options: { rate: 125000, burst: 10240, lat: 50000 } }]));
    const l = planLines(planRevertAhead(t({ direction: 'egress' }), egressOnly, s, OPTS));
    expect(l).toHaveLength(1);
    expect(l[0]).toMatch(/^tc qdisc replace dev eth0 parent 1:1 handle bacf: bfifo limit \d+$/);
  });

  it('covers everything the exact post-apply plan removes (same steps, hardened)', () => {
    // The state after the apply, as the planner's own apply would leave it, read back by planRevert.
    const apply = planLines(planApply(t(), both, fresh(), OPTS));
    expect(apply.some((l) => l.includes('ingress'))).toBe(true);
    const ahead = planLines(planRevertAhead(t(), both, fresh(), OPTS));
    const after: LiveState = {
      dev: {
        qdiscs: parseQdiscs(JSON.stringify([{ kind: 'htb', handle: 'bac0:', root: true, options: {} }, { kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', options: {} }])),
        classes: [], filters: [],
        ingressFilters: [{ protocol: 'all', pref: 49152, kind: 'u32', keys: [], actions: [{ kind: 'mirred', toDev: ifb }] }],
      },
      ifb: { name: ifb, alias: 'backhaul-ifb dev=eth0 ingress-qdisc=ours', qdiscs: parseQdiscs(JSON.stringify([{ kind: 'htb', handle: 'bac0:', root: true, options: {} }])), classes: [], filters: [] },
    };
    const exact = planLines(planRevert(t(), after)).map((l) => (l === 'tc qdisc del dev eth0 root' ? 'tc qdisc del dev eth0 root handle bac0:' : l));
    expect(ahead).toEqual(exact);
  });

  it('refuses (throws, nothing planned) exactly where the apply refuses: a foreign IFB of our name', () => {
    const s = fresh();
    s.ifb = { name: ifb, alias: 'someone else', ...emptyDevState('noqueue') };
    let err: unknown;
    try {
      planRevertAhead(t(), both, s, OPTS);
    } catch (e) {
      err = e;
    }
    expect(isBackhaulError(err) && err.code).toBe('ERR_FOREIGN_ROOT');
  });

  it('an empty interface and an egress-only profile: one handle-checked delete', () => {
    expect(planLines(planRevertAhead(t({ netns: 'ns1', direction: 'egress' }), egressOnly, fresh(), OPTS))).toEqual(['tc -n ns1 qdisc del dev eth0 root handle bac0:']);
  });
});
