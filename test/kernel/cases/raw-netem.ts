/**
 * Raw-tc cases: what the guest's kernel does with hand-written netem commands. They prove the
 * tier itself (a real sch_netem, read-back through `tc -j`, traffic measurements) independently
 * of our backend, and pin the kernel facts the backend's design rests on.
 */
import type { KernelCase } from '../harness.js';
import { binomialBounds, burstLengths, fmtInterval, gilbertBounds, lostSeqs, mean, quantile, rtts, within } from '../measure.js';
import { diffLines, field, near, netems, snapshot } from '../tc-state.js';
import { baseline, delayBand, ping, topology } from '../traffic.js';

const FULL_NETEM = 'delay 20ms 5ms 25% distribution normal loss 1% duplicate 1% corrupt 0.5% reorder 2% gap 5 rate 50mbit 20 100 5 limit 5000 slot 10ms 20ms packets 5 bytes 3000 ecn';

export const rawNetemCases: KernelCase[] = [
  {
    name: 'raw tc: netem leaf under htb reads back every field and reverts byte-identically',
    run: async (t) => {
      const { a, aIf } = await topology(t);
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
    name: 'raw tc: netem grafted under a foreign tbf root; removing it leaves tbf byte-identical',
    run: async (t) => {
      const { a, aIf } = await topology(t);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', 'handle', '1:', 'tbf', 'rate', '10mbit', 'burst', '32kbit', 'latency', '100ms']);
      const before = await snapshot(a, aIf);
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'parent', '1:1', 'handle', '10:', 'netem', 'delay', '5ms']);
      const [n] = await netems(a, aIf);
      t.check(n?.parent === '1:1' && near(field(n, 'delay.delay'), 0.005), `netem under tbf: ${JSON.stringify(n)}`);
      await a.exec(['tc', 'qdisc', 'del', 'dev', aIf, 'parent', '1:1', 'handle', '10:']);
      const after = await snapshot(a, aIf);
      t.check(after === before, `tbf root changed:\n${diffLines(before, after)}`);
    },
  },
  {
    name: 'raw tc: replace keeps stale netem fields; delete + add drops them (the backend must not rely on replace)',
    run: async (t) => {
      const { a, aIf } = await topology(t);
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
  {
    name: 'raw tc: netem delay and random loss show in traffic',
    timeoutMs: 90_000,
    run: async (t) => {
      const base = await baseline(t);
      const { a, aIf, bIp } = await topology(t);
      const delayMs = 30;
      const lossPct = 10;
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', 'netem', 'delay', `${delayMs}ms`, 'loss', `${lossPct}%`]);
      const s = await ping(a, bIp, { count: 1000, intervalS: 0.01 });
      const lost = lostSeqs(s).length / s.transmitted;
      const lossBand = binomialBounds(s.transmitted, lossPct / 100);
      t.log(`loss ${(lost * 100).toFixed(1)}% of ${s.transmitted}, bound ${fmtInterval(lossBand)}`);
      t.check(within(lost, lossBand), `loss ${lost.toFixed(3)} outside ${fmtInterval(lossBand)} (configured ${lossPct}%)`);
      const median = quantile(rtts(s), 0.5);
      const band = delayBand(base, delayMs);
      t.log(`median RTT ${median.toFixed(2)} ms, band ${fmtInterval(band, 2)} (baseline p50 ${base.p50.toFixed(3)} + ${delayMs} ms)`);
      t.check(within(median, band), `median RTT ${median.toFixed(2)} ms outside ${fmtInterval(band, 2)}`);
    },
  },
  {
    name: 'raw tc: Gilbert-Elliott loss rate and burst length match p and r (not inverted)',
    timeoutMs: 120_000,
    run: async (t) => {
      const { a, aIf, bIp } = await topology(t);
      const p = 0.02;
      const r = 0.25;
      await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', 'netem', 'loss', 'gemodel', `${p * 100}%`, `${r * 100}%`, '100%', '0%']);
      const s = await ping(a, bIp, { count: 2000, intervalS: 0.005 });
      const lost = lostSeqs(s);
      const bursts = burstLengths(lost);
      const b = gilbertBounds(s.transmitted, p, r);
      const loss = lost.length / s.transmitted;
      const meanBurst = bursts.length > 0 ? mean(bursts) : 0;
      t.log(`loss ${(loss * 100).toFixed(1)}% (expected ${(b.expectedLoss * 100).toFixed(1)}%, bound ${fmtInterval(b.loss)}), ${bursts.length} bursts, mean length ${meanBurst.toFixed(2)} (expected ${b.expectedBurst.toFixed(2)}, bound ${fmtInterval(b.meanBurst, 2)})`);
      t.check(within(loss, b.loss), `GE loss ${loss.toFixed(3)} outside ${fmtInterval(b.loss)}`);
      t.check(within(meanBurst, b.meanBurst), `GE mean burst ${meanBurst.toFixed(2)} outside ${fmtInterval(b.meanBurst, 2)}`);
      const inverted = gilbertBounds(s.transmitted, r, p);
      t.check(!within(loss, inverted.loss), 'the inverted parameters (p<->r) would also pass: the check has no power');
    },
  },
];
