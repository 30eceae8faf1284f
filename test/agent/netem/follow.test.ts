import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { seededRandom } from '../../../core/random.js';
import type { Direction, Impairment, Profile } from '../../../core/profile.js';
import { followSchedule, type PhaseEvent } from '../../../agent/netem/follow.js';
import type { NetemTarget } from '../../../agent/backend.js';

const target: NetemTarget = { kind: 'netem', dev: 'eth0', direction: 'egress' };
const profile: Profile = {
  name: 'p', description: 'd', egress: { rateKbit: 1000 },
  schedule: { loop: true, phases: [{ name: 'a', durationMs: 1000, egress: { delayMs: 10 } }, { name: 'b', durationMs: 500, egress: { delayMs: 50 } }] },
};

interface Call {
  at: number;
  phase: number | null;
  previousDelay: number | undefined;
}

async function drive(p: Profile, untilMs: number, stepMs = 50): Promise<{ calls: Call[]; events: PhaseEvent[] }> {
  const clock = new FakeClock(1_700_000_000_000);
  const t0 = clock.wallMs();
  const calls: Call[] = [];
  const events: PhaseEvent[] = [];
  const switcher = {
    applyPhase: async (_t: NetemTarget, _p: Profile, phase: number | null, previous?: Partial<Record<Direction, Impairment>>) => {
      calls.push({ at: clock.wallMs() - t0, phase, previousDelay: previous?.egress?.delayMs });
    },
  };
  const done = followSchedule(switcher, target, p, { clock, random: seededRandom(1), untilWallMs: t0 + untilMs, onPhase: (e) => events.push(e) });
  for (let t = 0; t <= untilMs + stepMs; t += stepMs) await clock.advance(stepMs);
  await done;
  return { calls, events };
}

describe('followSchedule', () => {
  it('switches at every boundary, in order, passing what was applied before', async () => {
    const { calls, events } = await drive(profile, 3200);
    expect(calls).toEqual([
      { at: 0, phase: 0, previousDelay: undefined },
      { at: 1000, phase: 1, previousDelay: 10 },
      { at: 1500, phase: 0, previousDelay: 50 },
      { at: 2500, phase: 1, previousDelay: 10 },
      { at: 3000, phase: 0, previousDelay: 50 },
    ]);
    expect(events.map((e) => e.name)).toEqual(['a', 'b', 'a', 'b', 'a']);
  });

  it('a one-shot schedule ends on its tail (the base) and holds it', async () => {
    const oneShot: Profile = { ...profile, schedule: { ...profile.schedule!, loop: false } };
    const { calls, events } = await drive(oneShot, 4000);
    expect(calls.map((c) => [c.at, c.phase])).toEqual([[0, 0], [1000, 1], [1500, null]]);
    expect(events.at(-1)?.endMs).toBe(Infinity);
  });

  it('a profile without a schedule does nothing', async () => {
    const { calls } = await drive({ ...profile, schedule: undefined } as Profile, 500);
    expect(calls).toEqual([]);
  });
});
