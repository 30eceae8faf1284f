/**
 * Every bundled profile plans, for the base and every phase, in both directions, into commands
 * with explicit units (the real-tc acceptance of the same commands is tc-argv.priv.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { bundledProfiles, netemCommandsOf } from './bundled-plans.js';
import { effectiveImpairment } from '../../../core/schedule.js';

/** Cellular and LEO links deliver in order (RLC/ARQ): shared/reference/wan-profiles.md (a), (c) note 2. */
const IN_ORDER = ['2g-edge', '3g-hspa', '5g-nsa', '5g-sa-private', 'leo-starlink', 'leo-starlink-degraded', 'lte-cell-edge', 'lte-good', 'lte-vehicle-handover'];

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

  it('cellular and LEO profiles keep order in both directions and every phase; their netem leaves carry the order rate', () => {
    for (const name of IN_ORDER) {
      const p = profiles.find((x) => x.name === name);
      expect(p, name).toBeDefined();
      for (const i of [null, ...(p!.schedule?.phases.map((_, k) => k) ?? [])]) {
        for (const dir of ['egress', 'ingress'] as const) expect(effectiveImpairment(p!, i, dir)?.keepOrder, `${name} ${dir} phase ${i}`).toBe(true);
      }
      for (const c of netemCommandsOf(p!, true)) expect(c.args.join(' '), `${name} ${c.phase}`).toMatch(/ rate 100000000kbit( |$)/);
    }
  });

  it('the other profiles leave order to netem (jitter may reorder): no order rate', () => {
    for (const p of profiles.filter((x) => !IN_ORDER.includes(x.name))) {
      for (const c of netemCommandsOf(p, true)) expect(c.args.join(' '), `${p.name} ${c.phase}`).not.toMatch(/ rate 100000000kbit/);
    }
  });
});
