/**
 * Scheduled profiles on a real netem, no timing asserted:
 *   - a bundled profile's phase switches (NetemBackend.applyPhase) walked in the timeline's order
 *     put each phase's parameters on the leaf, in both directions, touching only the leaf;
 *   - the agent's engine (ImpairmentManager + ScheduleRunner) switches a short one-shot schedule
 *     in real time, in order, visibly on the leaf.
 */
import type { NetemTarget } from '../../../agent/backend.js';
import { loadProfile } from '../../../agent/profile-library.js';
import type { Direction, Impairment } from '../../../core/profile.js';
import { seededRandom } from '../../../core/random.js';
import { createTimeline, effectiveImpairment } from '../../../core/schedule.js';
import type { CaseContext, KernelCase } from '../harness.js';
import { parseProfile } from '../../../core/profile-parse.js';
import { systemClock } from '../../../core/clock.js';
import { EventBus } from '../../../agent/events.js';
import { Journal } from '../../../agent/journal.js';
import { ImpairmentManager } from '../../../agent/impairments/manager.js';
import { NetemAgentBackend } from '../../../agent/netem-agent-backend.js';
import { ScheduleRunner } from '../../../agent/schedule-runner.js';
import { rawNetemDiff } from '../expect-impairment.js';
import { isSubsequence } from '../measure.js';
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
      for (let i = 0; i < 3; i++) {
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
      const expected = [0, 1, 2].map((i) => schedule.phases[i % schedule.phases.length]?.name);
      t.check(JSON.stringify(names) === JSON.stringify(expected), `phase order ${names.join(', ')}, expected ${expected.join(', ')}`);
      const leaves = seen.map((s) => s.split(' [')[1]);
      t.check(new Set(leaves).size === 3, `the leaf did not visibly change between the three phases: ${leaves.join(' | ')}`);
    },
  },
];

/**
 * The agent's own engine on a real netem, in real time: ImpairmentManager + ScheduleRunner +
 * NetemAgentBackend (the agent's composition without its API server and revert guard). A one-shot
 * schedule of three 3 s phases is created; the runner's switch log must read p1, p2, p3, base, and
 * the leaf values seen by polling `tc -j` must be an in-order subsequence of base -> that log,
 * ending on the base, having visibly left it. Polls may be late under emulation: only order is
 * asserted, never when.
 */
async function agentScheduleCase(t: CaseContext): Promise<void> {
  const profile = parseProfile({
    name: 'kt-phases', description: 'kernel-tier schedule',
    egress: { delay: '5ms' },
    schedule: {
      loop: false, tail: 'base',
      phases: [
        { name: 'p1', duration: '3s', egress: { delay: '20ms' } },
        { name: 'p2', duration: '3s', egress: { delay: '40ms', loss: '10%' } },
        { name: 'p3', duration: '3s', egress: { delay: '60ms' } },
      ],
    },
  }, 'kernel-tier');
  const { a, aIf } = await sharedTopology(t);
  const backend = new NetemAgentBackend(await sharedBackend(t));
  const events = new EventBus(() => Date.now());
  const journal = new Journal(`/run/backhaul-kernel-tier-${process.pid}/journal.json`);
  let runner: ScheduleRunner | undefined;
  const manager = new ImpairmentManager({
    backends: new Map([['netem', backend]]),
    profiles: { resolve: async () => profile },
    journal,
    guard: { setPlan: async () => undefined },
    clock: systemClock,
    events,
    leases: { defaultTtlMs: 120_000, maxTtlMs: 120_000 },
    management: { apiPort: 8470, sshPorts: [22], extra: [], disabled: true },
    hooks: { onActive: (r) => runner?.onActive(r), onRemoved: (r) => runner?.onRemoved(r) },
  });
  runner = new ScheduleRunner({ manager, clock: systemClock, events });
  const caller = { token: 'kernel-tier', peer: null };
  const view = await manager.create({
    target: { kind: 'netem', dev: aIf, netns: a.name, direction: 'egress' }, profile: 'kt-phases', direction: 'egress',
    match: [], exclude: [], ttlMs: null, controller: null, force: false, allowManagementInterface: true, labels: {},
  }, caller);
  t.defer(async () => {
    runner?.stopAll();
    if (manager.record(view.id)) await manager.delete(view.id, { force: true }, null);
  });
  // The runner's switch log is the authority on order (it records each switch after tc returned);
  // polling `tc -j` only samples the leaf (a tc process costs up to ~1 s under load, and the runner
  // switches to p1 at once), so what it saw must be an in-order subsequence of that log. Polling
  // stops one poll after the log is complete (4 switches), at the latest 30 s after the schedule's 9 s.
  const label: Record<string, string> = { base: 'delay 5ms loss none', p1: 'delay 20ms loss none', p2: 'delay 40ms loss 10%', p3: 'delay 60ms loss none' };
  const seen: string[] = [];
  const deadline = Date.now() + 9_000 + 30_000;
  for (;;) {
    const complete = (manager.record(view.id)?.phaseSwitches.length ?? 0) >= 4;
    const leaf = leafSummary(netemFor(await allQdiscs(a), aIf, 'egress'));
    if (seen.at(-1) !== leaf) seen.push(leaf);
    if (complete || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 150));
  }
  t.log(`leaf seen: ${seen.join(' -> ')}`);
  const rec = manager.record(view.id);
  const log = rec?.phaseSwitches ?? [];
  const switches = log.map((s) => s.name);
  t.log(`runner switches: ${log.map((s) => `${s.name} (+${s.actualAtMs - (log[0]?.actualAtMs ?? 0)} ms)`).join(' -> ')}`);
  t.check(JSON.stringify(switches) === JSON.stringify(['p1', 'p2', 'p3', 'base']), `runner switched ${switches.join(', ') || 'nothing'}, expected p1, p2, p3, base`);
  t.check(log.every((s, i) => i === 0 || s.actualAtMs >= (log[i - 1]?.actualAtMs ?? 0)), 'the switch log is not in time order');
  const expected = ['base', ...switches].map((n) => label[n] ?? `unknown phase ${n}`);
  t.check(isSubsequence(seen, expected), `the leaf went ${seen.join(' -> ')}: not an in-order subsequence of ${expected.join(' -> ')}`);
  t.check(seen.at(-1) === label['base'], `the leaf ended as ${seen.at(-1)}, not the base`);
  t.check(seen.some((l) => l !== label['base']), 'the leaf never visibly left the base');
  t.check(rec?.lastError === null, `runner error: ${rec?.lastError}`);
}

scheduleCases.push({
  name: 'schedule (agent engine, real time): a one-shot schedule switches p1 -> p2 -> p3 -> base, and the leaf follows in that order',
  timeoutMs: 90_000,
  run: agentScheduleCase,
});
