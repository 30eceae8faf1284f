/**
 * The schedule runner and the reconciler with a fake clock and the fake backend (unit tier):
 * exact planned switch times and phase order; vanished impairments reported and re-applied.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/random.js';
import type { Profile } from '../../core/profile.js';
import { validateCreate } from '../../agent/api/validate.js';
import { EventBus } from '../../agent/events.js';
import { Reconciler } from '../../agent/reconciler.js';
import { ScheduleRunner } from '../../agent/schedule-runner.js';
import { managerFixtures, PLAIN_PROFILE } from './manager-fixture.js';

const SCHEDULED: Profile = {
  name: 'steps', description: 'x', egress: { rateKbit: 4000 },
  schedule: { loop: true, phases: [{ name: 'slow', durationMs: 1000, egress: { rateKbit: 1000 } }, { name: 'fast', durationMs: 2000, egress: { rateKbit: 8000 } }] },
};

const fixture = managerFixtures();

function setup(profile: Profile) {
  const fx = fixture(profile);
  return fx;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
};

describe('schedule runner', () => {
  it('switches phases at the planned boundaries, in order, looping', async () => {
    const { clock, seen, backend, manager, hooks } = setup(SCHEDULED);
    const runner = new ScheduleRunner({ manager, clock, events: new EventBus(() => clock.wallMs()), leadMs: 40, random: () => seededRandom(1) });
    hooks.push(runner);
    const t0 = clock.wallMs();
    const view = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'steps' }), { token: 't', peer: null });
    for (let step = 0; step < 65; step++) {
      await clock.advance(100);
      await settle();
    }
    const rec = manager.record(view.id)!;
    expect(rec.phaseSwitches.map((s) => [s.name, s.plannedAtMs - t0])).toEqual([
      ['slow', 0], ['fast', 1000], ['slow', 3000], ['fast', 4000], ['slow', 6000],
    ]);
    for (const s of rec.phaseSwitches) expect(s.actualAtMs).toBeGreaterThanOrEqual(s.plannedAtMs);
    expect(backend.calls.filter((c) => c.startsWith('phase'))).toEqual(['phase netem::eth0 0', 'phase netem::eth0 1', 'phase netem::eth0 0', 'phase netem::eth0 1', 'phase netem::eth0 0']);
    expect(rec.phase).toMatchObject({ index: 0, name: 'slow', egress: { rateKbit: 1000 } });
    expect(rec.phaseSwitchCount).toBe(5);
    void seen;
    // Deleting stops the schedule: no switch afterwards.
    await manager.delete(view.id, {}, null);
    const before = backend.calls.length;
    for (let step = 0; step < 40; step++) {
      await clock.advance(100);
      await settle();
    }
    expect(backend.calls.slice(before)).toEqual([]);
  });

  it('the lease ends the schedule too (the expiry reverts)', async () => {
    const { clock, backend, manager, hooks } = setup(SCHEDULED);
    hooks.push(new ScheduleRunner({ manager, clock, events: new EventBus(), random: () => seededRandom(1) }));
    const ac = new AbortController();
    const loop = manager.runLeaseLoop(ac.signal, 100);
    await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'steps', ttl: '2500ms' }), { token: 't', peer: null });
    for (let step = 0; step < 60; step++) {
      await clock.advance(100);
      await settle();
    }
    ac.abort();
    await loop;
    expect(manager.list()).toEqual([]);
    expect(backend.live.size).toBe(0);
    const phases = backend.calls.filter((c) => c.startsWith('phase'));
    expect(phases).toEqual(['phase netem::eth0 0', 'phase netem::eth0 1']);
  });
});

describe('reconciler', () => {
  const PLAIN = PLAIN_PROFILE;

  it('reports a vanished impairment and re-applies it', async () => {
    const { clock, seen, backend, manager, events } = setup(PLAIN);
    const rc = new Reconciler({ manager, events, clock, watchLinks: false });
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain' }), { token: 't', peer: null });
    await rc.checkAll();
    expect(manager.get(v.id).inEffect).toBe(true);
    backend.lose({ kind: 'netem', dev: 'eth0', direction: 'both' });
    backend.missingDevs.add('eth0');
    await rc.checkAll();
    expect(manager.get(v.id)).toMatchObject({ inEffect: false, reapplies: 0 });
    expect(manager.get(v.id).lastError).toMatch(/re-apply failed: no interface eth0/);
    // Retried on the next pass, once the interface is back.
    backend.missingDevs.delete('eth0');
    await rc.checkAll();
    expect(manager.get(v.id)).toMatchObject({ inEffect: true, reapplies: 1, lastError: null });
    expect(seen.filter((e) => e.type === 'impairment.in-effect').map((e) => (e as { inEffect: boolean }).inEffect)).toEqual([false, true]);
    expect(seen.some((e) => e.type === 'impairment.reapplied')).toBe(true);
  });

  it('a partly removed tree (status still reads something back) counts as not in effect and is re-applied', async () => {
    const { clock, seen, backend, manager, events } = setup(PLAIN);
    const rc = new Reconciler({ manager, events, clock, watchLinks: false });
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain' }), { token: 't', peer: null });
    await rc.checkAll();
    backend.missingParts.set('netem::eth0', ['ingress qdisc on eth0']);
    expect(await backend.status({ kind: 'netem', dev: 'eth0', direction: 'both' })).not.toBeNull();
    await rc.checkAll();
    expect(manager.get(v.id)).toMatchObject({ inEffect: true, reapplies: 1, lastError: null });
    const off = seen.find((e) => e.type === 'impairment.in-effect' && !(e as { inEffect: boolean }).inEffect) as { reason: string } | undefined;
    expect(off?.reason).toMatch(/missing ingress qdisc on eth0/);
  });

  it('keeps a history of the gaps: a vanish that a re-apply closed is still seen afterwards', async () => {
    const { clock, backend, manager, events } = setup(PLAIN);
    const rc = new Reconciler({ manager, events, clock, watchLinks: false });
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain' }), { token: 't', peer: null });
    expect(manager.get(v.id).notInEffect).toEqual({ count: 0, totalMs: 0, lastAtMs: null, sinceMs: null });
    const target = { kind: 'netem' as const, dev: 'eth0', direction: 'both' as const };
    // Gone, and the interface too: detected at t1, re-applied 3 s later at the next pass.
    backend.lose(target);
    backend.missingDevs.add('eth0');
    await clock.advance(1000);
    const t1 = clock.wallMs();
    await rc.checkAll();
    expect(manager.get(v.id).notInEffect).toEqual({ count: 1, totalMs: 0, lastAtMs: t1, sinceMs: t1 });
    backend.missingDevs.delete('eth0');
    await clock.advance(3000);
    await rc.checkAll();
    // Back in effect now, yet the history shows the gap.
    expect(manager.get(v.id)).toMatchObject({ inEffect: true, reapplies: 1, notInEffect: { count: 1, totalMs: 3000, lastAtMs: t1, sinceMs: null } });
    // A second vanish, re-applied at once (same pass): counted, with no time between detection and re-apply.
    backend.lose(target);
    await clock.advance(500);
    const t2 = clock.wallMs();
    await rc.checkAll();
    expect(manager.get(v.id)).toMatchObject({ inEffect: true, reapplies: 2, notInEffect: { count: 2, totalMs: 3000, lastAtMs: t2, sinceMs: null } });
    // Checks that find it in place change nothing.
    await rc.checkAll();
    expect(manager.get(v.id).notInEffect.count).toBe(2);
  });

  it('with reapply off, only reports', async () => {
    const { clock, backend, manager, events } = setup(PLAIN);
    const rc = new Reconciler({ manager, events, clock, watchLinks: false, reapply: false });
    const v = await manager.create(validateCreate({ target: { dev: 'eth0' }, profile: 'plain' }), { token: 't', peer: null });
    backend.lose({ kind: 'netem', dev: 'eth0', direction: 'both' });
    await rc.checkAll();
    await rc.checkAll();
    expect(manager.get(v.id)).toMatchObject({ inEffect: false, reapplies: 0 });
    expect(backend.calls.filter((c) => c.startsWith('apply'))).toHaveLength(1);
  });
});
