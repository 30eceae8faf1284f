import { describe, expect, it } from 'vitest';
import { overlapMs, phaseWindows } from './cases/agent.js';

// A calm (3 s) / cut (8 s) loop whose switches landed 0.5-2 s after their planned times.
const LOG = [
  { name: 'calm', plannedAtMs: 0, actualAtMs: 400 },
  { name: 'cut', plannedAtMs: 3000, actualAtMs: 5000 },
  { name: 'calm', plannedAtMs: 11_000, actualAtMs: 11_500 },
  { name: 'cut', plannedAtMs: 14_000, actualAtMs: 15_000 },
];

describe('phaseWindows / overlapMs (agent kernel case)', () => {
  it('a phase is certainly in effect from its switch completing to the next switch planned time', () => {
    expect(phaseWindows(LOG).map((w) => [w.name, w.fromMs, w.untilMs])).toEqual([
      ['calm', 400, 3000], ['cut', 5000, 11_000], ['calm', 11_500, 14_000], ['cut', 15_000, Infinity],
    ]);
  });
  it('counts only closed cut windows inside the interval', () => {
    const ws = phaseWindows(LOG);
    expect(overlapMs(ws, 'cut', 0, 20_000)).toBe(6000); // the open last cut does not count
    expect(overlapMs(ws, 'cut', 6000, 8000)).toBe(2000);
    expect(overlapMs(ws, 'cut', 3000, 5000)).toBe(0); // planned but not yet certainly in effect
    expect(overlapMs(ws, 'calm', 0, 20_000)).toBe(2600 + 2500);
  });
});
