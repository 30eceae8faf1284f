/**
 * The fault list's order (unit tier: fake clock, no-op commands, an in-memory journal): the order
 * the creates were asked for, whether they got through their checks in that order or not, and
 * whether they have ended or not.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { EventBus } from '../../../agent/events.js';
import type { FaultJournal } from '../../../agent/faults/fault-journal.js';
import { FaultManager } from '../../../agent/faults/fault-manager.js';

describe('FaultManager.list order', () => {
  it('lists faults in creation order, whichever create got through first and whichever ended', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const journal = { put: async () => undefined, remove: async () => undefined, idle: async () => undefined } as unknown as FaultJournal;
    const faults = new FaultManager({
      clock, events: new EventBus(() => clock.wallMs()), guard: { setPlan: async () => undefined }, journal, maxDurationMs: 600_000,
      run: async () => undefined,
      // The management check of eth0's fault (the first asked for) answers after eth1's has started.
      managementDevs: async () => {
        if (!calls++) await gate;
        return ['mgmt0'];
      },
    });
    const first = faults.create({ fault: { kind: 'link-down', dev: 'eth0', durationMs: 60_000 }, controller: 'c', allowManagementInterface: false }, '10.0.0.9');
    const b = await faults.create({ fault: { kind: 'link-down', dev: 'eth1', durationMs: 60_000 }, controller: 'c', allowManagementInterface: false }, '10.0.0.9');
    release();
    const a = await first;
    expect(faults.list().map((v) => v.id)).toEqual([a.id, b.id]);
    // An ended fault keeps its place.
    await faults.stop(b.id);
    expect(faults.list().map((v) => [v.id, v.state])).toEqual([[a.id, 'active'], [b.id, 'ended']]);
    await faults.stopAll();
    expect(faults.list().map((v) => [v.id, v.state])).toEqual([[a.id, 'ended'], [b.id, 'ended']]);
  });
});
