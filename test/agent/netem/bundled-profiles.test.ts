/**
 * Every bundled profile plans, for the base and every phase, in both directions, into commands
 * with explicit units (the real-tc acceptance of the same commands is tc-argv.priv.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { bundledProfiles, netemCommandsOf } from './bundled-plans.js';

const profiles = await bundledProfiles();

describe('bundled profiles plan', () => {
  it('there are bundled profiles', () => {
    expect(profiles.length).toBeGreaterThanOrEqual(20);
  });

  it.each(profiles.map((p) => [p.name, p] as const))('%s', (_name, p) => {
    const cmds = netemCommandsOf(p, true);
    for (const c of cmds) {
      const line = c.args.join(' ');
      expect(line, `${c.phase}`).toMatch(/^netem limit \d+ delay \d+(ms|us|ns) \d+(ms|us|ns) [\d.]+% /);
      // every number after delay/jitter/slot carries a unit (tc reads bare times as ns)
      expect(line).not.toMatch(/ delay \d+ /);
      expect(line).not.toMatch(/bps/);
      expect(line).toMatch(/ rate (0bit|\d+k?bit)/);
    }
  });
});
