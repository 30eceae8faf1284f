/**
 * The parser on JSON captured from real tc for hand-written commands (test/fixtures/tc/capture.sh,
 * commands listed in COMMANDS.md there). Expected values are the ones typed in those commands,
 * so a misreading shared with the planner (1-h inverted, fractions vs percent, s vs ms) fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Impairment } from '../../../core/profile.js';
import { decodeSelector, netemOptionsToImpairment, readBack } from '../../../agent/netem/parse.js';
import { parseClasses, parseFilters, parseJsonDup, parseLinks, parseQdiscs } from '../../../agent/netem/tc-json.js';
import { tbfLimitBytes } from '../../../agent/netem/live-state.js';

const fx = (name: string): string => readFileSync(new URL(`../../fixtures/tc/${name}`, import.meta.url), 'utf8');

function rootNetem(file: string): Impairment {
  const q = parseQdiscs(fx(file)).find((x) => x.kind === 'netem');
  if (!q) throw new Error(`no netem in ${file}`);
  return netemOptionsToImpairment(q.options);
}

describe('netem options -> Impairment (captured from a kernel with sch_netem)', () => {
  it.each<[string, string, Impairment]>([
    ['delay 100ms 10ms 25% loss random 1% 10%', 'netem-delay-loss.json',
      { limitPackets: 1000, delayMs: 100, jitterMs: 10, delayCorrelationPct: 25, loss: { model: 'random', pct: 1, correlationPct: 10 } }],
    ['loss gemodel 1% 30% 70% 0.1% (p r 1-h 1-k, not inverted)', 'netem-gemodel.json',
      { limitPackets: 1000, delayMs: 5, loss: { model: 'gilbert-elliott', pPct: 1, rPct: 30, oneMinusHPct: 70, oneMinusKPct: 0.1 } }],
    ['loss state 1% 90% 2% 80% 0.5% (p13 p31 p32 p23 p14)', 'netem-4state.json',
      { limitPackets: 1000, loss: { model: '4-state', p13Pct: 1, p31Pct: 90, p32Pct: 2, p23Pct: 80, p14Pct: 0.5 } }],
    ['reorder 25% 50% gap 5 duplicate 2% 30% corrupt 0.1% 20%', 'netem-reorder-dup-corrupt.json',
      { limitPackets: 1000, delayMs: 50, reorderPct: 25, reorderCorrelationPct: 50, reorderGap: 5, duplicatePct: 2, duplicateCorrelationPct: 30,
        corruptPct: 0.1, corruptCorrelationPct: 20 }],
    ['rate 2mbit 20 100 5 limit 5000 (rate in bytes/s; any netem rate keeps order)', 'netem-rate-overhead.json',
      { limitPackets: 5000, delayMs: 10, keepOrder: true, rateKbit: 2000, packetOverheadBytes: 20, cellSizeBytes: 100, cellOverheadBytes: 5 }],
    ['loss 5% ecn slot 800us 1200us packets 32 bytes 65536', 'netem-slot-ecn.json',
      { limitPackets: 1000, delayMs: 1, loss: { model: 'random', pct: 5 }, ecn: true, slot: { minDelayMs: 0.8, maxDelayMs: 1.2, packets: 32, bytes: 65536 } }],
    ['distribution pareto is not reported back', 'netem-distribution.json', { limitPackets: 1000, delayMs: 40, jitterMs: 8 }],
    ['change keeps stale rate and corrupt (why we render every field)', 'netem-change-stale.json',
      { limitPackets: 1000, delayMs: 20, corruptPct: 1, keepOrder: true, rateKbit: 1000 }],
  ])('%s', (_name, file, want) => {
    expect(rootNetem(file)).toEqual(want);
  });
});

describe('netem normalisations', () => {
  it('gap 1 (what tc sets for `reorder P` without a gap, seen on a 6.1 guest) reads as no gap', () => {
    const opts = { limit: 1000, delay: { delay: 0.05, jitter: 0, correlation: 0 }, reorder: { reorder: 0.05, correlation: 0 }, ecn: false, gap: 1 };
    expect(netemOptionsToImpairment(opts)).toEqual({ limitPackets: 1000, delayMs: 50, reorderPct: 5 });
  });
});

describe('our tree shape read back (hand-written htb + netem leaf)', () => {
  it('reads the leaf netem and the class rate only when the tree is ours', () => {
    // The hand-written tree uses handle 1:, not ours: readBack must not claim it.
    const qdiscs = parseQdiscs(fx('htb-netem-leaf.json'));
    expect(readBack({ qdiscs, classes: parseClasses(fx('htb-netem-leaf-classes.txt')), filters: [] })).toBeNull();
    // The same kernel output with our handles substituted is read as ours.
    const ours = fx('htb-netem-leaf.json').replaceAll('"1:"', '"bac0:"').replace('"30:"', '"bac1:"').replace('"1:10"', '"bac0:10"');
    const classes = parseClasses(fx('htb-netem-leaf-classes.txt').replace('1:10', 'bac0:10'));
    expect(readBack({ qdiscs: parseQdiscs(ours), classes, filters: [] })).toEqual({
      impairment: { limitPackets: 1000, delayMs: 30, jitterMs: 3, loss: { model: 'random', pct: 0.5 }, rateKbit: 20000 },
      leafKind: 'netem', leafHandle: 'bac1:', attachedAt: 'root', unreadable: ['distribution'],
    });
  });
});

describe('htb classes (iproute2 6.1 prints text even with -j)', () => {
  it('parses rates in 1000-based units to bits per second', () => {
    const c = parseClasses(fx('htb-classes.txt'));
    expect(c.map((x) => [x.classid, x.leaf, x.rateBps, x.ceilBps, x.burstBytes])).toEqual([
      ['1:10', '20:', 5e6, 5e6, 3026],
      ['1:20', undefined, 1.5e6, 1.5e6, 1599],
      ['1:30', undefined, 100e9, 100e9, 0],
    ]);
  });
});

describe('htb classes as JSON (newer iproute2; shape per q_htb.c/tc_class.c, rate in bytes/s: not capturable with 6.1)', () => {
  it('converts bytes/s to bits/s and keeps leaf/parent', () => {
    const text = '[{"class":"htb","handle":"bac0:10","root":true,"leaf":"bac1:","prio":0,"rate":625000,"ceil":625000,"burst":3026,"cburst":3026}]';
    expect(parseClasses(text)).toEqual([{ classid: 'bac0:10', leaf: 'bac1:', rateBps: 5e6, ceilBps: 5e6, burstBytes: 3026 }]);
  });
});

describe('tbf (rate bytes/s, burst bytes, lat us)', () => {
  it('recovers the byte limit tc derived the latency from (10mbit, 32kbit burst, 50ms)', () => {
    const [tbf] = parseQdiscs(fx('tbf-root.json'));
    expect(tbf?.options).toEqual({ rate: 1250000, burst: 4095, lat: 50000 });
    // tc: limit = rate * latency + burst = 1250000 B/s * 0.05 s + 4096 B = 66596 B (burst prints one byte low).
    expect(Math.abs(tbfLimitBytes(tbf!) - 66596)).toBeLessThanOrEqual(1);
  });
});

describe('u32 filters', () => {
  const filters = parseFilters(fx('u32-filters.json'));

  it('keeps every repeated "match" key (JSON.parse would keep only the last)', () => {
    expect(filters.map((f) => f.keys.length)).toEqual([3, 4, 2, 1]);
    expect((JSON.parse(fx('u32-filters.json')) as { options?: { match?: unknown } }[])[2]?.options?.match).not.toBeInstanceOf(Array);
  });

  it.each([
    [0, { family: 4, dst: '10.20.0.0/16', protocol: 6, dport: 443, flowid: '1:10', pref: 5 }],
    [1, { family: 6, src: '2001:db8:1:0:0:0:0:0/48', protocol: 17, sport: 53, flowid: '1:20', pref: 6 }],
    [2, { family: 6, dst: 'fd00:1:2:3:0:0:0:0/64', flowid: '1:', pref: 7 }],
    [3, { family: 'any', flowid: '1:', pref: 9 }],
  ])('decodes filter %i', (i, want) => {
    expect(decodeSelector(filters[i]!)).toEqual(want);
  });

  it('reads the ingress redirect action', () => {
    const [redirect] = parseFilters(fx('ingress-filters.json'));
    expect(redirect).toMatchObject({ pref: 100, protocol: 'all', actions: [{ kind: 'mirred', mirredAction: 'redirect', direction: 'egress', toDev: 'ifbcap0' }] });
    expect(parseQdiscs(fx('ingress-qdiscs.json')).find((q) => q.kind === 'ingress')).toMatchObject({ handle: 'ffff:', parent: 'ffff:fff1' });
  });
});

describe('links and JSON edge cases', () => {
  it('reads an IFB alias', () => {
    expect(parseLinks(fx('ifb-link.json'))).toEqual([{ ifname: 'ifbcap0', alias: 'hello world', up: true }]);
  });

  it.each(['', '  \n'])('empty output is an empty list (%j)', (t) => {
    expect(parseQdiscs(t)).toEqual([]);
  });

  it.each(['[{"a":1,}]', '[{"a":1}', '{"a":tru}', '[1] x'])('rejects malformed JSON %s', (t) => {
    expect(() => parseJsonDup(t)).toThrow(SyntaxError);
  });

  it('agrees with JSON.parse where there are no duplicate keys', () => {
    const t = '[{"s":"a\\"b\\u00e9","n":-1.5e3,"t":true,"z":null,"a":[1,{"x":[]}]}]';
    expect(parseJsonDup(t)).toEqual(JSON.parse(t));
  });
});
