import { describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import type { NetemTarget } from '../../../agent/backend.js';
import { emptyDevState, type DevTcState, type LiveState } from '../../../agent/netem/live-state.js';
import { planApply, planLines, planPhase, planRevert, batchBody } from '../../../agent/netem/plan.js';
import { ifbNameFor } from '../../../agent/netem/names.js';
import { parseFilters, parseQdiscs } from '../../../agent/netem/tc-json.js';
import { isBackhaulError } from '../../../core/errors.js';

const OPTS = { seedSupported: true };

const rateOnly: Profile = { name: 'rate-only', description: 'r', egress: { rateKbit: 5000 } };
const delayLoss: Profile = {
  name: 'delay-loss', description: 'd',
  egress: { delayMs: 40, jitterMs: 5, distribution: 'normal', loss: { model: 'random', pct: 1, correlationPct: 25 }, rateKbit: 20000 },
  ingress: { delayMs: 30, rateKbit: 50000 },
};
const ge: Profile = {
  name: 'ge', description: 'g',
  egress: { delayMs: 10, loss: { model: 'gilbert-elliott', pPct: 1, rPct: 30, oneMinusHPct: 70, oneMinusKPct: 0.1 }, ecn: true, seed: 7 },
};
const scheduled: Profile = {
  name: 'sched', description: 's',
  egress: { rateKbit: 10000 },
  schedule: { loop: true, phases: [{ durationMs: 1000 }, { durationMs: 500, egress: { delayMs: 200, loss: { model: 'random', pct: 100 } } }] },
};

function fresh(root = 'noqueue'): LiveState {
  return { dev: { ...emptyDevState(root), ingressFilters: [] }, ifb: null };
}

function target(over: Partial<NetemTarget> = {}): NetemTarget {
  return { kind: 'netem', dev: 'eth0', direction: 'both', ...over };
}

function lines(t: NetemTarget, p: Profile, s: LiveState = fresh()): string[] {
  return planLines(planApply(t, p, s, OPTS));
}

/** A live state as tc would print it after our tree was applied (hand-written JSON). */
function applied(leaf: string, opts: { parent?: string; extra?: unknown[]; filters?: string } = {}): DevTcState {
  const htb = { kind: 'htb', handle: 'bac0:', ...(opts.parent ? { parent: opts.parent } : { root: true }), options: { r2q: 10, default: '0x10' } };
  return {
    qdiscs: parseQdiscs(JSON.stringify([...(opts.extra ?? []), htb, JSON.parse(leaf)])),
    classes: [{ classid: 'bac0:10', rateBps: 5e6, ceilBps: 5e6 }],
    filters: parseFilters(opts.filters ?? '[]'),
  };
}

describe('planApply: egress tree', () => {
  it.each([
    ['noqueue (veth)', 'noqueue'],
    ['pfifo_fast', 'pfifo_fast'],
    ['mq (multiqueue NIC)', 'mq'],
    ['fq_codel default', 'fq_codel'],
  ])('replaces a kernel-default root: %s', (_n, root) => {
    const l = lines(target({ direction: 'egress' }), rateOnly, fresh(root));
    expect(l[0]).toBe('tc qdisc add dev eth0 root handle bac0: htb default 10 direct_qlen 1000');
  });

  it('rate-only: htb class with the rate and a pfifo leaf, no netem anywhere', () => {
    const l = lines(target({ direction: 'egress' }), rateOnly);
    expect(l).toEqual([
      'tc qdisc add dev eth0 root handle bac0: htb default 10 direct_qlen 1000',
      'tc class replace dev eth0 parent bac0: classid bac0:10 htb rate 5000kbit ceil 5000kbit burst 3028b cburst 3028b quantum 65536',
      'tc qdisc add dev eth0 parent bac0:10 handle bac1: pfifo limit 1000',
    ]);
    expect(l.join('\n')).not.toContain('netem');
  });

  it('netem fields: a netem leaf with every field rendered explicitly', () => {
    const l = lines(target({ direction: 'egress' }), delayLoss);
    expect(l).toContain(
      'tc qdisc add dev eth0 parent bac0:10 handle bac1: netem limit 1000 delay 40ms 5ms 0% distribution normal loss random 1% 25% ' +
        'duplicate 0% 0% corrupt 0% 0% reorder 0% 0% rate 0bit',
    );
    expect(l).toContain('tc class replace dev eth0 parent bac0: classid bac0:10 htb rate 20000kbit ceil 20000kbit burst 5000b cburst 5000b quantum 65536');
  });

  it('gilbert-elliott keeps netem order p r 1-h 1-k; ecn and seed rendered', () => {
    const l = lines(target({ direction: 'egress' }), ge).join('\n');
    expect(l).toContain('loss gemodel 1% 30% 70% 0.1% ecn');
    expect(l).toContain('seed 7');
  });

  it('drops the seed with a warning when tc lacks it', () => {
    const plan = planApply(target({ direction: 'egress' }), ge, fresh(), { seedSupported: false });
    expect(planLines(plan).join('\n')).not.toContain('seed');
    expect(plan.warnings.join()).toMatch(/seed 7 ignored/);
  });

  it('no rate: the class is unlimited (100gbit)', () => {
    const l = lines(target({ direction: 'egress' }), ge).join('\n');
    expect(l).toContain('htb rate 100000000kbit ceil 100000000kbit');
  });

  it('a scheduled profile whose base needs no netem still gets a netem leaf (one leaf kind for all phases)', () => {
    const l = lines(target({ direction: 'egress' }), scheduled).join('\n');
    expect(l).toContain('handle bac1: netem limit');
    expect(l).toContain('htb rate 10000kbit');
  });
});

describe('planApply: selection', () => {
  it.each([
    ['egress v4 match with port', 'egress', { match: [{ peer: '10.20.0.0/16', port: 443 }] }, [
      'tc filter add dev eth0 parent bac0: protocol ip prio 20 u32 match ip dst 10.20.0.0/16 match ip protocol 6 0xff match ip dport 443 0xffff flowid bac0:10',
      'tc filter add dev eth0 parent bac0: protocol ip prio 20 u32 match ip dst 10.20.0.0/16 match ip protocol 17 0xff match ip dport 443 0xffff flowid bac0:10',
      'tc filter add dev eth0 parent bac0: protocol all prio 30 u32 match u32 0 0 flowid bac0:',
    ]],
    ['egress v6 match, udp only', 'egress', { match: [{ peer: '2001:db8::/32', port: 53, proto: 'udp' }] }, [
      'tc filter add dev eth0 parent bac0: protocol ipv6 prio 21 u32 match ip6 dst 2001:db8::/32 match ip6 protocol 17 0xff match ip6 dport 53 0xffff flowid bac0:10',
      'tc filter add dev eth0 parent bac0: protocol all prio 30 u32 match u32 0 0 flowid bac0:',
    ]],
    ['exclude only: excluded to the direct queue, no catch-all', 'egress', { exclude: [{ peer: '192.168.1.10/32', port: 22, proto: 'tcp' }] }, [
      'tc filter add dev eth0 parent bac0: protocol ip prio 10 u32 match ip dst 192.168.1.10/32 match ip protocol 6 0xff match ip dport 22 0xffff flowid bac0:',
      // neighbour resolution stays up for the excluded peer: ARP, and ICMPv6 types 133-137
      'tc filter add dev eth0 parent bac0: protocol arp prio 12 u32 match u32 0 0 flowid bac0:',
      'tc filter add dev eth0 parent bac0: protocol ipv6 prio 13 u32 match ip6 protocol 58 0xff match u8 0x85 0xff at 40 flowid bac0:',
      'tc filter add dev eth0 parent bac0: protocol ipv6 prio 13 u32 match ip6 protocol 58 0xff match u8 0x86 0xfe at 40 flowid bac0:',
      'tc filter add dev eth0 parent bac0: protocol ipv6 prio 13 u32 match ip6 protocol 58 0xff match u8 0x88 0xfe at 40 flowid bac0:',
    ]],
  ] as const)('%s', (_n, dir, sel, want) => {
    const l = lines(target({ direction: dir, ...(sel as unknown as Partial<NetemTarget>) }), rateOnly);
    expect(l.filter((x) => x.includes(' filter '))).toEqual(want);
  });

  it('ingress matches the peer as the source, on the IFB', () => {
    const l = lines(target({ direction: 'ingress', match: [{ peer: '10.1.0.0/16' }] }), delayLoss);
    const ifb = ifbNameFor('eth0');
    expect(l).toContain(`tc filter add dev ${ifb} parent bac0: protocol ip prio 20 u32 match ip src 10.1.0.0/16 flowid bac0:10`);
  });

  it('no match and no exclude: no filters at all (htb default sends everything to the class)', () => {
    expect(lines(target({ direction: 'egress' }), rateOnly).some((x) => x.includes(' filter '))).toBe(false);
  });
});

describe('planApply: ingress via IFB', () => {
  const ifb = ifbNameFor('eth0');

  it('creates a tagged IFB, builds its tree before the redirect, adds our own ingress qdisc', () => {
    const l = lines(target({ direction: 'ingress' }), delayLoss);
    expect(ifb).toMatch(/^bh[0-9a-f]{8}$/);
    expect(l.slice(0, 3)).toEqual([
      `ip link add name ${ifb} type ifb`,
      `ip link set dev ${ifb} alias 'backhaul-ifb dev=eth0 ingress-qdisc=ours'`,
      `ip link set dev ${ifb} up`,
    ]);
    const treeAt = l.findIndex((x) => x.startsWith(`tc qdisc add dev ${ifb} root handle bac0:`));
    const redirectAt = l.findIndex((x) => x.includes('mirred egress redirect'));
    expect(treeAt).toBeGreaterThan(0);
    expect(redirectAt).toBeGreaterThan(treeAt);
    expect(l).toContain('tc qdisc add dev eth0 handle ffff: ingress');
    expect(l[redirectAt]).toBe(`tc filter add dev eth0 parent ffff: protocol all prio 49152 u32 match u32 0 0 action mirred egress redirect dev ${ifb}`);
  });

  it('shares an existing clsact (eBPF CNI) instead of replacing it, and says so in the alias', () => {
    const s = fresh();
    s.dev.qdiscs.push({ kind: 'clsact', handle: 'ffff:', parent: 'ffff:fff1', root: false, options: {} });
    const l = lines(target({ direction: 'ingress' }), delayLoss, s);
    expect(l.join('\n')).not.toContain('ffff: ingress');
    expect(l[1]).toContain('ingress-qdisc=shared');
  });

  it('refuses a foreign filter at our reserved priority', () => {
    const s = fresh();
    s.dev.qdiscs.push({ kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', root: false, options: {} });
    s.dev.ingressFilters = [{ protocol: 'all', pref: 49152, kind: 'u32', keys: [], actions: [{ kind: 'gact' }] }];
    expect(() => planApply(target({ direction: 'ingress' }), delayLoss, s, OPTS)).toThrow(/reserved priority 49152/);
  });

  it('refuses an interface that has our IFB name but not our alias', () => {
    const s = fresh();
    s.ifb = { name: ifb, alias: 'somebody else', ...emptyDevState() };
    expect(() => planApply(target({ direction: 'ingress' }), delayLoss, s, OPTS)).toThrow(/did not create/);
  });

  it('--direction ingress with a profile that has no ingress is a usage error', () => {
    try {
      planApply(target({ direction: 'ingress' }), rateOnly, fresh(), OPTS);
      expect.unreachable();
    } catch (e) {
      expect(isBackhaulError(e) && e.code).toBe('ERR_USAGE');
    }
  });
});

describe('planApply: foreign roots', () => {
  const tbf = { kind: 'tbf', handle: '1:', root: true, options: { rate: 1250000, burst: 4095, lat: 50000 } };

  it('grafts our htb under a foreign tbf (as its child 1:1)', () => {
    const s = fresh();
    s.dev.qdiscs = parseQdiscs(JSON.stringify([tbf]));
    expect(lines(target({ direction: 'egress' }), rateOnly, s)[0]).toBe('tc qdisc add dev eth0 parent 1:1 handle bac0: htb default 10 direct_qlen 1000');
  });

  it('reverting from under a tbf with its raw dump: delete ours, then change the tbf to its own parameters (recreates its invisible default)', () => {
    const s = fresh();
    const raw = { rate: 125000, burst: '32Kb/1', mpu: 0, burst_raw: '3e8000', lat: 50000, limit: 39018, linklayer: 'ethernet' };
    s.dev = { ...applied('{"kind":"pfifo","handle":"bac1:","parent":"bac0:10","options":{"limit":1000}}', { parent: '1:1', extra: [tbf] }), tbfRaw: raw, ingressFilters: [] };
    expect(planLines(planRevert(target(), s))).toEqual([
      'tc qdisc del dev eth0 parent 1:1 handle bac0:',
      'tc qdisc change dev eth0 root handle 1: tbf rate 125000bps burst 32768 limit 39018',
    ]);
    // one batch: noop (drops everything) lasts only between the two commands
    expect(planRevert(target(), s).steps.every((st) => st.tool === 'tc')).toBe(true);
  });

  it('finishes an interrupted exact revert (ours gone, the tbf on noop): the change step alone', () => {
    const s = fresh();
    const raw = { rate: 125000, burst: '32Kb/1', mpu: 0, burst_raw: '3e8000', lat: 50000, limit: 39018, linklayer: 'ethernet' };
    s.dev = { qdiscs: parseQdiscs(JSON.stringify([tbf])), classes: [], filters: [], tbfRaw: raw, tbfNoopChild: true, ingressFilters: [] };
    expect(planLines(planRevert(target(), s))).toEqual(['tc qdisc change dev eth0 root handle 1: tbf rate 125000bps burst 32768 limit 39018']);
    // with its default child there (nothing interrupted): nothing to do
    s.dev = { ...s.dev, tbfNoopChild: false };
    expect(planRevert(target(), s).steps).toEqual([]);
  });

  it('reverting from under a tbf with a peakrate (not exactly readable) puts back a visible bfifo of its exact limit', () => {
    const s = fresh();
    const raw = { rate: 375000, burst_raw: '682aa', mtu: '1599b/1', mpu: 0, mtu_raw: 'bd77', lat: 19998, limit: 11908, linklayer: 'ethernet' };
    s.dev = { ...applied('{"kind":"pfifo","handle":"bac1:","parent":"bac0:10","options":{"limit":1000}}', { parent: '1:1', extra: [tbf] }), tbfRaw: raw, ingressFilters: [] };
    expect(planLines(planRevert(target(), s))).toEqual(['tc qdisc replace dev eth0 parent 1:1 handle bacf: bfifo limit 11908']);
  });

  it('reverting from under a tbf without a raw dump puts back a bfifo of the tbf limit (a deleted tbf child becomes noop)', () => {
    const s = fresh();
    s.dev = { ...applied('{"kind":"pfifo","handle":"bac1:","parent":"bac0:10","options":{"limit":1000}}', { parent: '1:1', extra: [tbf] }), ingressFilters: [] };
    expect(planLines(planRevert(target(), s))).toEqual(['tc qdisc replace dev eth0 parent 1:1 handle bacf: bfifo limit 66595']);
  });

  it('re-applies over the bfifo it put back (replace, not add)', () => {
    const s = fresh();
    s.dev.qdiscs = parseQdiscs(JSON.stringify([tbf, { kind: 'bfifo', handle: 'bacf:', parent: '1:1', options: { limit: 66595 } }]));
    expect(lines(target({ direction: 'egress' }), rateOnly, s)[0]).toBe('tc qdisc replace dev eth0 parent 1:1 handle bac0: htb default 10 direct_qlen 1000');
  });

  it.each([
    ['htb root', [{ kind: 'htb', handle: '1:', root: true, options: {} }]],
    ['tbf with a foreign child', [tbf, { kind: 'pfifo', handle: '20:', parent: '1:1', options: { limit: 10 } }]],
    ['user-installed fq_codel (non-zero handle)', [{ kind: 'fq_codel', handle: '8001:', root: true, options: {} }]],
  ])('refuses %s with ERR_FOREIGN_ROOT', (_n, qdiscs) => {
    const s = fresh();
    s.dev.qdiscs = parseQdiscs(JSON.stringify(qdiscs));
    try {
      planApply(target({ direction: 'egress' }), rateOnly, s, OPTS);
      expect.unreachable();
    } catch (e) {
      expect(isBackhaulError(e) && e.code).toBe('ERR_FOREIGN_ROOT');
    }
  });
});

describe('idempotence and replacement', () => {
  const pfifoLeaf = '{"kind":"pfifo","handle":"bac1:","parent":"bac0:10","options":{"limit":1000}}';

  it('applying over our own tree does not re-add the htb and changes the same-kind leaf in place', () => {
    const s = fresh();
    s.dev = { ...applied(pfifoLeaf), ingressFilters: [] };
    expect(lines(target({ direction: 'egress' }), rateOnly, s)).toEqual([
      'tc class replace dev eth0 parent bac0: classid bac0:10 htb rate 5000kbit ceil 5000kbit burst 3028b cburst 3028b quantum 65536',
      'tc qdisc change dev eth0 parent bac0:10 handle bac1: pfifo limit 1000',
    ]);
  });

  it('a leaf kind change grafts a fresh leaf under the other handle (atomic replace)', () => {
    const s = fresh();
    s.dev = { ...applied(pfifoLeaf), ingressFilters: [] };
    const l = lines(target({ direction: 'egress' }), delayLoss, s);
    expect(l.find((x) => x.includes('netem'))).toMatch(/^tc qdisc replace dev eth0 parent bac0:10 handle bac2: netem /);
  });

  it('unchanged filters are left alone; changed ones are flushed and re-added', () => {
    const filters = JSON.stringify([
      { protocol: 'ip', pref: 20, kind: 'u32', options: { fh: '800::800', flowid: 'bac0:10', match: { value: 'a140000', mask: 'ffff0000', off: 16 } } },
      { protocol: 'all', pref: 30, kind: 'u32', options: { fh: '801::800', flowid: 'bac0:', match: { value: '0', mask: '0', off: 0 } } },
    ]);
    const s = fresh();
    s.dev = { ...applied(pfifoLeaf, { filters }), ingressFilters: [] };
    const same = lines(target({ direction: 'egress', match: [{ peer: '10.20.0.0/16' }] }), rateOnly, s);
    expect(same.some((x) => x.includes(' filter '))).toBe(false);
    const other = lines(target({ direction: 'egress', match: [{ peer: '10.30.0.0/16' }] }), rateOnly, s);
    expect(other.filter((x) => x.includes(' filter '))[0]).toBe('tc filter del dev eth0 parent bac0:');
  });

  it('B over A: an egress-only profile removes the IFB that A installed', () => {
    const ifb = ifbNameFor('eth0');
    const s = fresh();
    s.dev.qdiscs.push({ kind: 'ingress', handle: 'ffff:', parent: 'ffff:fff1', root: false, options: {} });
    s.dev.ingressFilters = [{ protocol: 'all', pref: 49152, kind: 'u32', keys: [], actions: [{ kind: 'mirred', toDev: ifb }] }];
    s.ifb = { name: ifb, alias: 'backhaul-ifb dev=eth0 ingress-qdisc=ours', ...applied(pfifoLeaf) };
    const l = lines(target({ direction: 'both' }), rateOnly, s);
    expect(l.slice(-3)).toEqual([
      'tc filter del dev eth0 parent ffff: protocol all prio 49152',
      'tc qdisc del dev eth0 ingress',
      `ip link del dev ${ifb}`,
    ]);
  });
});

describe('planRevert', () => {
  it('of nothing is empty', () => {
    expect(planRevert(target(), fresh()).steps).toEqual([]);
  });

  it('keeps a shared ingress qdisc and removes only our redirect and IFB', () => {
    const ifb = ifbNameFor('eth0', 'ns1');
    const s = fresh();
    s.dev.qdiscs.push({ kind: 'clsact', handle: 'ffff:', parent: 'ffff:fff1', root: false, options: {} });
    s.dev.ingressFilters = [
      { protocol: 'all', pref: 49152, kind: 'u32', keys: [], actions: [{ kind: 'mirred', toDev: ifb }] },
      { protocol: 'all', pref: 1, kind: 'bpf', keys: [], actions: [] },
    ];
    s.ifb = { name: ifb, alias: 'backhaul-ifb dev=eth0 ingress-qdisc=shared', ...emptyDevState() };
    expect(planLines(planRevert({ dev: 'eth0', netns: 'ns1' }, s))).toEqual([
      'tc -n ns1 filter del dev eth0 parent ffff:fff2 protocol all prio 49152',
      `ip -n ns1 link del dev ${ifb}`,
    ]);
  });
});

describe('planPhase', () => {
  it('changes only the class and the leaf, with every netem field explicit', () => {
    const s = fresh();
    s.dev = { ...applied('{"kind":"netem","handle":"bac1:","parent":"bac0:10","options":{"limit":1000}}'), ingressFilters: [] };
    const plan = planPhase(target({ direction: 'egress' }), scheduled, 1, s, { ...OPTS, previous: { egress: scheduled.egress } });
    expect(planLines(plan)).toEqual([
      'tc class replace dev eth0 parent bac0: classid bac0:10 htb rate 10000kbit ceil 10000kbit burst 3028b cburst 3028b quantum 65536',
      expect.stringMatching(/^tc qdisc change dev eth0 parent bac0:10 handle bac1: netem limit \d+ delay 200ms 0ms 0% loss random 100% 0% duplicate 0% 0% corrupt 0% 0% reorder 0% 0% rate 0bit$/),
    ]);
  });

  it('grafts a fresh leaf when ecn must go away', () => {
    const s = fresh();
    s.dev = { ...applied('{"kind":"netem","handle":"bac2:","parent":"bac0:10","options":{"limit":1000,"ecn":true}}'), ingressFilters: [] };
    const l = planLines(planPhase(target({ direction: 'egress' }), scheduled, 1, s, OPTS));
    expect(l[1]).toMatch(/^tc qdisc replace dev eth0 parent bac0:10 handle bac1: netem /);
  });

  it('needs our tree in place', () => {
    expect(() => planPhase(target({ direction: 'egress' }), scheduled, 0, fresh(), OPTS)).toThrow(/apply the profile first|no backhaul impairment/);
  });
});

describe('netns and batch rendering', () => {
  it('prefixes every command with -n NETNS and the batch body has no leading tc', () => {
    const plan = planApply(target({ direction: 'egress', netns: 'site17' }), rateOnly, fresh(), OPTS);
    expect(planLines(plan).every((x) => x.startsWith('tc -n site17 '))).toBe(true);
    expect(batchBody(plan.steps).split('\n')[0]).toBe('qdisc add dev eth0 root handle bac0: htb default 10 direct_qlen 1000');
  });
});
