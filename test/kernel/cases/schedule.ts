/**
 * Scheduled profiles on a real netem: phase switches (NetemBackend.applyPhase, what the agent's
 * schedule runner calls at each boundary) walked in the timeline's order put each phase's
 * parameters on the leaf, in both directions, and touch only the leaf: our htb root stays the same.
 * No timing is asserted.
 */
import type { NetemTarget } from '../../../agent/backend.js';
import { loadProfile } from '../../../agent/profile-library.js';
import type { Direction, Impairment } from '../../../core/profile.js';
import { seededRandom } from '../../../core/random.js';
import { createTimeline, effectiveImpairment } from '../../../core/schedule.js';
import type { KernelCase } from '../harness.js';
import { rawNetemDiff } from '../expect-impairment.js';
import { sharedBackend } from '../netem-adapter.js';
import { sharedTopology } from '../topology.js';
import { allQdiscs, netemFor, type DevQdisc } from './profiles.js';

function leafSummary(q: DevQdisc | undefined): string {
  const o = q?.options ?? {};
  const delay = (o['delay'] as { delay?: number } | undefined)?.delay ?? 0;
  const loss = o['loss-random'] ? `${(((o['loss-random'] as { loss: number }).loss) * 100).toFixed(0)}%` : o['loss-gemodel'] ? 'GE' : 'none';
  return `delay ${(delay * 1000).toFixed(0)}ms loss ${loss}`;
}

export const scheduleCases: KernelCase[] = [
  {
    name: 'schedule lte-vehicle-handover: switching phases in timeline order puts each phase on the leaf (both directions), htb root untouched',
    timeoutMs: 120_000,
    run: async (t) => {
      const profile = await loadProfile('lte-vehicle-handover');
      const schedule = profile.schedule;
      if (!schedule) throw new Error('lte-vehicle-handover has no schedule any more: pick another scheduled profile');
      const { a, aIf } = await sharedTopology(t);
      const backend = await sharedBackend(t);
      const target: NetemTarget = { kind: 'netem', dev: aIf, netns: a.name, direction: 'both' };
      t.defer(() => backend.revert(target));
      await backend.apply(target, profile);
      const htbOf = (qs: DevQdisc[]): string => JSON.stringify(qs.filter((q) => q.kind === 'htb').map(({ dev, handle, parent }) => ({ dev, handle, parent })));
      const htbBefore = htbOf(await allQdiscs(a));
      const timeline = createTimeline(schedule, 0, seededRandom(7));
      const seen: string[] = [];
      let previous: Partial<Record<Direction, Impairment>> = {
        egress: effectiveImpairment(profile, null, 'egress') ?? {},
        ingress: effectiveImpairment(profile, null, 'ingress') ?? {},
      };
      for (let i = 0; i < 4; i++) {
        const seg = timeline.next().value;
        if (!seg) throw new Error('timeline ended early');
        const name = seg.phaseIndex === null ? 'base' : (schedule.phases[seg.phaseIndex]?.name ?? `phase ${seg.phaseIndex}`);
        await backend.applyPhase(target, profile, seg.phaseIndex, previous);
        const qs = await allQdiscs(a);
        const now: Partial<Record<Direction, Impairment>> = {};
        for (const dir of ['egress', 'ingress'] as const) {
          const want = effectiveImpairment(profile, seg.phaseIndex, dir) ?? {};
          now[dir] = want;
          for (const d of rawNetemDiff(netemFor(qs, aIf, dir)?.options, want)) t.check(false, `${name} ${dir}: ${d}`);
        }
        t.check(htbOf(qs) === htbBefore, `${name}: our htb changed (a phase switch must touch only the leaf): ${htbOf(qs)}`);
        seen.push(`${name} [${leafSummary(netemFor(qs, aIf, 'egress'))}]`);
        previous = now;
      }
      t.log(`phases in order: ${seen.join(' -> ')}`);
      const names = seen.map((s) => s.split(' [')[0]);
      const expected = [0, 1, 2, 3].map((i) => schedule.phases[i % schedule.phases.length]?.name);
      t.check(JSON.stringify(names) === JSON.stringify(expected), `phase order ${names.join(', ')}, expected ${expected.join(', ')}`);
      const leaves = seen.map((s) => s.split(' [')[1]);
      t.check(new Set(leaves.slice(0, 3)).size === 3, `the leaf did not visibly change between the first three phases: ${leaves.join(' | ')}`);
    },
  },
];
