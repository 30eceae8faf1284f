import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import type { Impairment, Profile } from '../../../core/profile.js';
import { seededRandom } from '../../../core/random.js';
import { PhaseDriver } from '../../../agent/relay/phases.js';

const profile: Profile = {
  name: 'p',
  description: 'test',
  egress: { delayMs: 10, rateKbit: 1000 },
  ingress: { delayMs: 5 },
  schedule: {
    loop: false,
    tail: 'base',
    phases: [
      { name: 'a', durationMs: 1000, egress: { delayMs: 50 } },
      { name: 'outage', durationMs: 500, egress: { loss: { model: 'random', pct: 100 } }, ingress: { loss: { model: 'random', pct: 100 } } },
      { name: 'c', durationMs: 2000, egress: { rateKbit: null } },
    ],
  },
};

describe('PhaseDriver', () => {
  it('switches phases on time, in order, applying base + phase patches (no stale fields)', async () => {
    const clock = new FakeClock(1_000_000);
    const applied: [number, Impairment, Impairment][] = [];
    const d = new PhaseDriver(profile, (eg, ing) => applied.push([clock.wallMs() - 1_000_000, eg, ing]), { clock, random: seededRandom(1) });
    d.start();
    await clock.advance(999);
    expect(d.current().phaseName).toBe('a');
    await clock.advance(1);
    expect(d.current().phaseName).toBe('outage');
    await clock.advance(500);
    expect(d.current().phaseName).toBe('c');
    await clock.advance(2000);
    expect(d.current().phaseIndex).toBeNull();
    await clock.advance(100_000);
    expect(applied.map((a) => a[0])).toEqual([0, 1000, 1500, 3500]);
    expect(applied[0]![1]).toEqual({ delayMs: 50, rateKbit: 1000 });
    expect(applied[1]![1]).toEqual({ delayMs: 10, rateKbit: 1000, loss: { model: 'random', pct: 100 } });
    expect(applied[1]![2]).toEqual({ delayMs: 5, loss: { model: 'random', pct: 100 } });
    expect(applied[2]![1]).toEqual({ delayMs: 10 });
    expect(applied[3]![1]).toEqual({ delayMs: 10, rateKbit: 1000 });
    expect(d.history().map((h) => h.phaseIndex)).toEqual([0, 1, 2, null]);
  });

  it('setPhase pins a phase and stops the timeline; a bad index throws', async () => {
    const clock = new FakeClock(0);
    const d = new PhaseDriver(profile, () => {}, { clock, random: seededRandom(1) });
    d.start();
    d.setPhase(2);
    await clock.advance(10_000);
    expect(d.current().phaseIndex).toBe(2);
    expect(() => d.setPhase(7)).toThrow(RangeError);
  });

  it('random durations are reproducible by seed', async () => {
    const p: Profile = { ...profile, schedule: { loop: true, phases: [{ durationMs: { minMs: 100, maxMs: 900 } }, { durationMs: { minMs: 100, maxMs: 900 }, egress: { delayMs: 1 } }] } };
    const run = async (seed: number): Promise<number[]> => {
      const clock = new FakeClock(0);
      const d = new PhaseDriver(p, () => {}, { clock, random: seededRandom(seed) });
      d.start();
      await clock.advance(5000);
      d.stop();
      return d.history().map((h) => h.sinceMs);
    };
    expect(await run(3)).toEqual(await run(3));
    expect(await run(3)).not.toEqual(await run(4));
  });
});
