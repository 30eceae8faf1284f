/**
 * Raw-tc cases: what the guest's kernel does with hand-written netem commands. They prove the
 * tier itself (a real sch_netem, read-back through `tc -j`) independently of our backend, and pin
 * the kernel facts the backend's design rests on (stale fields on replace, tbf's noop child).
 */
import type { KernelCase } from '../harness.js';
import { diffLines, field, near, netems, snapshot } from '../tc-state.js';
import { ping } from '../traffic.js';
import { sharedTopology } from '../topology.js';
import type { CaseContext } from '../harness.js';

/** The shared topology, with a cleanup that puts the kernel-default root back on a0. */
async function topo(t: CaseContext): Promise<Awaited<ReturnType<typeof sharedTopology>>> {
  const tp = await sharedTopology(t);
  t.defer(() => tp.a.exec(['tc', 'qdisc', 'del', 'dev', tp.aIf, 'root'], { allowFail: true }));
  return tp;
}

const FULL_NETEM = 'delay 20ms 5ms 25% distribution normal loss 1% duplicate 1% corrupt 0.5% reorder 2% gap 5 rate 50mbit 20 100 5 limit 5000 slot 10ms 20ms packets 5 bytes 3000 ecn';

export const rawNetemCases: KernelCase[] = [
  {
    name: 'raw tc: netem leaf under htb reads back every field and reverts byte-identically',
    run: async (t) => {
      const { a, aIf } = await topo(t);
      const before = await snapshot(a, aIf);
      await a.exec(['tc', 'qdisc', 'replace', 'dev', aIf, 'root', 'handle', '1:', 'htb', 'default', '1']);
      await a.exec(['tc', 'class', 'add', 'dev', aIf, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', '10gbit']);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'parent', '1:1', 'handle', '10:', 'netem', ...FULL_NETEM.split(' ')]);
      const [n] = await netems(a, aIf);
      t.check(n?.parent === '1:1', `netem leaf parent: ${n?.parent}`);
      const expect: [string, unknown][] = [
        ['delay.delay', 0.02], ['delay.jitter', 0.005], ['delay.correlation', 0.25],
        ['loss-random.loss', 0.01], ['duplicate.duplicate', 0.01], ['corrupt.corrupt', 0.005],
        ['reorder.reorder', 0.02], ['gap', 5], ['rate.rate', 6_250_000], ['rate.packetoverhead', 20],
        ['rate.cellsize', 100], ['rate.celloverhead', 5], ['limit', 5000], ['slot.min-delay', 0.01],
        ['slot.max-delay', 0.02], ['slot.packets', 5], ['slot.bytes', 3000], ['ecn', true],
      ];
      for (const [path, want] of expect) {
        const got = field(n, path);
        t.check(typeof want === 'number' ? near(got, want) : got === want, `${path}: want ${String(want)}, got ${JSON.stringify(got)}`);
      }
      await a.exec(['tc', 'qdisc', 'del', 'dev', aIf, 'root']);
      const after = await snapshot(a, aIf);
      t.check(after === before, `state after revert differs:\n${diffLines(before, after)}`);
    },
  },
  {
    name: 'raw tc: deleting a child grafted under tbf restores tc -j byte-identically but black-holes traffic (why revert grafts a bfifo back)',
    run: async (t) => {
      const { a, aIf, bIp } = await topo(t);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', 'handle', '1:', 'tbf', 'rate', '10mbit', 'burst', '32kbit', 'latency', '100ms']);
      const before = await snapshot(a, aIf);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'parent', '1:1', 'handle', '10:', 'netem', 'delay', '5ms']);
      const [n] = await netems(a, aIf);
      t.check(n?.parent === '1:1' && near(field(n, 'delay.delay'), 0.005), `netem under tbf: ${JSON.stringify(n)}`);
      await a.exec(['tc', 'qdisc', 'del', 'dev', aIf, 'parent', '1:1', 'handle', '10:']);
      const after = await snapshot(a, aIf);
      t.check(after === before, `tc output after deleting the child differs:\n${diffLines(before, after)}`);
      const s = await ping(a, bIp, { count: 10, intervalS: 0.02 });
      t.log(`after the delete: ${s.replies.size}/${s.transmitted} echoes answered (tbf's child is now noop)`);
      t.check(s.replies.size === 0, 'expected tbf to drop everything once its child is deleted (noop qdisc); if it no longer does, the backend could delete instead of grafting a bfifo back');
    },
  },
  {
    name: 'raw tc: replace keeps stale netem fields; delete + add drops them (the backend must not rely on replace)',
    run: async (t) => {
      const { a, aIf } = await topo(t);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', 'handle', '10:', 'netem', ...FULL_NETEM.split(' ')]);
      await a.exec(['tc', 'qdisc', 'replace', 'dev', aIf, 'root', 'handle', '10:', 'netem', 'delay', '30ms']);
      const [stale] = await netems(a, aIf);
      const kept = ['corrupt', 'reorder', 'rate', 'slot'].filter((k) => field(stale, k) !== undefined);
      t.log(`after replace with 'delay 30ms' the kernel kept: ${kept.join(', ')}; ecn=${String(field(stale, 'ecn'))}`);
      t.check(kept.length > 0, 'expected this kernel to keep stale fields on replace (code reading, impairment-anchors (c)); if it no longer does, update the backend notes');
      await a.exec(['tc', 'qdisc', 'del', 'dev', aIf, 'root']);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', 'handle', '10:', 'netem', 'delay', '30ms']);
      const [fresh] = await netems(a, aIf);
      for (const k of ['corrupt', 'reorder', 'rate', 'slot', 'duplicate', 'loss-random']) t.check(field(fresh, k) === undefined, `after delete + add, ${k} is still there`);
      t.check(field(fresh, 'ecn') === false, 'after delete + add, ecn is still on');
    },
  },
];
