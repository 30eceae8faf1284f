import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledProfilesDir, listProfiles, loadProfile, mergeExtends, type ProfileEntry } from '../../agent/profile-library.js';
import { describe as describeProfile } from '../../core/describe.js';
import { BackhaulError } from '../../core/errors.js';
import { meanLossPct } from '../../core/gilbert-elliott.js';
import { effectiveLimitPackets } from '../../core/limit.js';
import type { Impairment, Profile } from '../../core/profile.js';
import { effectiveImpairment } from '../../core/schedule.js';

const noEnv = { env: {} };

async function rejection(p: Promise<unknown>): Promise<BackhaulError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BackhaulError);
    return e as BackhaulError;
  }
  throw new Error('expected a rejection');
}

describe('the bundled library', () => {
  let entries: ProfileEntry[];
  let profiles: Profile[];
  beforeAll(async () => {
    entries = await listProfiles(noEnv);
    profiles = entries.map((e) => {
      if (!e.profile) throw new Error(`${e.name}: ${e.error?.message} ${JSON.stringify(e.error?.details)}`);
      return e.profile;
    });
  });

  it('is found next to package.json and every profile parses, named after its file', () => {
    expect(bundledProfilesDir()).toMatch(/profiles$/);
    expect(entries.length).toBeGreaterThanOrEqual(20);
    for (const e of entries) {
      expect(e.error).toBeUndefined();
      expect(e.profile?.name).toBe(e.name);
      expect(e.origin).toBe('bundled');
    }
  });

  it('every profile has a description, a source with a citation, and describes itself', () => {
    for (const p of profiles) {
      expect(p.description.length).toBeGreaterThan(10);
      expect(p.source).toMatch(/\[[A-Za-z0-9-]+\]/);
      const text = describeProfile(p);
      expect(text).toMatch(/^(Both directions|Uplink \(egress\)): /);
      expect(text).not.toMatch(/undefined|NaN|\[object/);
    }
  });

  it('has the required mix: >= 5 asymmetric, >= 3 Gilbert-Elliott, >= 3 scheduled (incl. the named ones)', () => {
    const asymmetric = profiles.filter((p) => p.ingress && JSON.stringify(p.ingress) !== JSON.stringify(p.egress));
    const ge = profiles.filter((p) => [p.egress.loss, p.ingress?.loss].some((l) => l?.model === 'gilbert-elliott'));
    const scheduled = profiles.filter((p) => p.schedule);
    expect(asymmetric.length).toBeGreaterThanOrEqual(5);
    expect(ge.length).toBeGreaterThanOrEqual(3);
    expect(scheduled.length).toBeGreaterThanOrEqual(3);
    const names = scheduled.map((p) => p.name);
    for (const n of ['leo-starlink', 'lte-vehicle-handover', 'failover-bfd-fast', 'failover-vrrp', 'failover-sdwan-brownout']) expect(names).toContain(n);
  });

  it('every bundled profile is in the library table of docs/profile.md', () => {
    const doc = readFileSync(join(bundledProfilesDir(), '..', 'docs', 'profile.md'), 'utf8');
    for (const p of profiles) expect(doc).toContain(`| \`${p.name}\` |`);
  });

  it('every phase of every profile merges into a consistent impairment with a sane queue limit', () => {
    for (const p of profiles) {
      const phases = [null, ...(p.schedule?.phases.map((_, i) => i) ?? [])];
      for (const i of phases) {
        for (const dir of ['egress', 'ingress'] as const) {
          const imp = effectiveImpairment(p, i, dir);
          if (!imp) continue;
          expect(effectiveLimitPackets(imp)).toBeGreaterThanOrEqual(imp.limitPackets ?? 1000);
        }
      }
    }
  });

  // Values within the ranges cited in shared/reference/wan-profiles.md table (a): one-way delay
  // per direction [min, max] ms, mean loss [min, max] %, down/up rate in kbit (undefined = no cap).
  const cited: Record<string, { down: [number, number]; up: [number, number]; loss?: [number, number]; rate?: [number | undefined, number | undefined] }> = {
    'fibre-business': { down: [4, 4], up: [4, 4], loss: [0.01, 0.01], rate: [500_000, 500_000] },
    'cable-docsis': { down: [10, 10], up: [12, 12], loss: [0.05, 0.05], rate: [300_000, 20_000] },
    'dsl-adsl': { down: [20, 20], up: [22, 22], loss: [0.1, 0.1], rate: [8000, 1000] },
    'dsl-rural-poor': { down: [35, 35], up: [35, 35], loss: [1.9, 2.1], rate: [2000, 256] },
    'lte-good': { down: [20, 20], up: [25, 25], loss: [0.09, 0.11], rate: [30_000, 8000] },
    'lte-cell-edge': { down: [70, 70], up: [90, 90], loss: [1.9, 2.1], rate: [1600, 750] },
    '5g-sa-private': { down: [5, 5], up: [6, 6], loss: [0.01, 0.01], rate: [500_000, 100_000] },
    '5g-nsa': { down: [12, 12], up: [15, 15], loss: [0.05, 0.05], rate: [200_000, 30_000] },
    '3g-hspa': { down: [150, 150], up: [150, 150], loss: [0.5, 0.5], rate: [1600, 768] },
    '2g-edge': { down: [420, 420], up: [420, 420], loss: [1, 1], rate: [240, 200] },
    'geo-satellite': { down: [300, 300], up: [300, 300], loss: [0.1, 0.1], rate: [25_000, 3000] },
    'leo-starlink': { down: [10, 40], up: [10, 40], loss: [0.6, 0.7], rate: [150_000, 15_000] },
    'wifi-clean': { down: [1, 1], up: [1, 1], loss: [0.05, 0.05], rate: [200_000, 200_000] },
    'wifi-congested': { down: [3, 3], up: [3, 3], loss: [1.6, 1.8], rate: [20_000, 10_000] },
    'intercontinental-eu-apac': { down: [135, 135], up: [135, 135], loss: [0.02, 0.02], rate: [undefined, undefined] },
    'nlc-very-bad-network': { down: [500, 500], up: [500, 500], loss: [10, 10], rate: [1000, 1000] },
  };

  it.each(Object.entries(cited))('%s is within its cited ranges', (name, c) => {
    const p = profiles.find((x) => x.name === name);
    expect(p, name).toBeDefined();
    if (!p) return;
    const up = p.egress;
    const down = p.ingress as Impairment;
    const within = (v: number | undefined, [lo, hi]: [number, number]): void => {
      expect(v).toBeGreaterThanOrEqual(lo);
      expect(v).toBeLessThanOrEqual(hi);
    };
    within(down.delayMs, c.down);
    within(up.delayMs, c.up);
    if (c.loss) {
      within(meanLossPct(up.loss ?? { model: 'random', pct: 0 }), c.loss);
      within(meanLossPct(down.loss ?? { model: 'random', pct: 0 }), c.loss);
    }
    if (c.rate) {
      expect(down.rateKbit).toBe(c.rate[0]);
      expect(up.rateKbit).toBe(c.rate[1]);
    }
  });

  it('leo-starlink: 15 s wall-clock aligned slots, a base delay in 10-40 ms per slot, short loss bursts', () => {
    const p = profiles.find((x) => x.name === 'leo-starlink') as Profile;
    const s = p.schedule;
    expect(s?.alignMs).toBe(15_000);
    expect(s?.loop).toBe(true);
    let slotStart = 0;
    for (const [i, ph] of (s?.phases ?? []).entries()) {
      const imp = effectiveImpairment(p, i, 'ingress') as Impairment;
      const d = ph.durationMs as number;
      if (ph.name?.endsWith('-handover')) {
        expect(slotStart % 15_000).toBe(0); // every burst starts on a 15 s boundary of the cycle
        expect(d).toBeGreaterThanOrEqual(50);
        expect(d).toBeLessThanOrEqual(300);
        expect(imp.loss).toMatchObject({ model: 'random' });
        expect((imp.loss as { pct: number }).pct).toBeGreaterThanOrEqual(50);
      } else if (!ph.name?.endsWith('-spike')) {
        expect(imp.delayMs).toBeGreaterThanOrEqual(10);
        expect(imp.delayMs).toBeLessThanOrEqual(40);
      }
      slotStart += d;
    }
    expect(slotStart % 15_000).toBe(0);
  });

  it('failover profiles: one-shot outages of realistic length that end on the backup', () => {
    const outage = (name: string, phase: string): { minMs: number; maxMs: number } => {
      const p = profiles.find((x) => x.name === name) as Profile;
      expect(p.schedule?.loop).toBe(false);
      expect(p.schedule?.tail).toBe('base');
      const i = p.schedule?.phases.findIndex((x) => x.name === phase) ?? -1;
      const ph = p.schedule?.phases[i];
      expect(effectiveImpairment(p, i, 'egress')?.loss).toEqual({ model: 'random', pct: 100 });
      const d = ph?.durationMs;
      return typeof d === 'number' ? { minMs: d, maxMs: d } : (d as { minMs: number; maxMs: number });
    };
    expect(outage('failover-bfd-fast', 'link-cut')).toEqual({ minMs: 150, maxMs: 900 });
    expect(outage('failover-vrrp', 'master-down')).toEqual({ minMs: 3000, maxMs: 4000 });
    expect(outage('failover-sdwan-brownout', 'switchover')).toEqual({ minMs: 100, maxMs: 500 });
    expect(outage('failover-bgp-holdtimer', 'hold-timer')).toEqual({ minMs: 90_000, maxMs: 90_000 });
    expect(outage('failover-retail-lte-soft', 'soft-failure')).toEqual({ minMs: 300_000, maxMs: 300_000 });
  });
});

describe('user directories, shadowing and extends', () => {
  let root: string;
  let a: string;
  let b: string;
  const write = (dir: string, file: string, text: string): string => {
    const p = join(dir, file);
    writeFileSync(p, text);
    return p;
  };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'backhaul-profiles-'));
    a = join(root, 'a');
    b = join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    // shadows the bundled lte-good, extending it (the bundled one, not itself)
    write(a, 'lte-good.yaml', 'description: our LTE, worse uplink\nextends: lte-good\negress:\n  delay: 60ms\n  loss: none\n');
    write(b, 'lte-good.yaml', 'description: never seen (a comes first)\n');
    write(a, 'site-17.yml', 'description: store 17\nextends: lte-good\ningress:\n  rate: 10mbit\n  delay: none\n');
    write(a, 'loop-x.yaml', 'description: x\nextends: loop-y\n');
    write(a, 'loop-y.yaml', 'description: y\nextends: loop-x\n');
    write(a, 'orphan.yaml', 'description: o\nextends: no-such-profile\n');
    write(a, 'broken.yaml', 'description: [unclosed\n');
    write(a, 'typo.yaml', 'description: t\negress:\n  dealy: 5ms\n');
    write(a, 'scalar.yaml', 'just a string\n');
    write(a, 'misnamed.yaml', 'name: store-18\ndescription: m\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a user profile shadows the bundled one and `extends` the one it shadows, field by field', async () => {
    const p = await loadProfile('lte-good', { dirs: [a], env: {} });
    expect(p.description).toBe('our LTE, worse uplink');
    expect(p.egress).toEqual({ delayMs: 60, jitterMs: 5, distribution: 'normal', keepOrder: true, rateKbit: 8000 });
    expect(p.ingress?.delayMs).toBe(20); // inherited from the bundled file
    expect(p.source).toMatch(/\[LH\]/); // inherited
  });

  it('searches --profiles dirs, then BACKHAUL_PROFILES (colon-separated), then the bundled dir', async () => {
    const viaEnv = await loadProfile('site-17', { env: { BACKHAUL_PROFILES: `${b}:${a}` } });
    // b's lte-good comes first on this path, and it has no egress: extends resolves by name on the same path
    expect(viaEnv.description).toBe('store 17');
    const listed = await listProfiles({ dirs: [a], env: { BACKHAUL_PROFILES: b } });
    const lte = listed.find((e) => e.name === 'lte-good');
    expect(lte?.origin).toBe('user');
    expect(lte?.path).toBe(join(a, 'lte-good.yaml'));
    expect(lte?.shadows).toEqual([join(b, 'lte-good.yaml'), join(bundledProfilesDir(), 'lte-good.yaml')]);
    expect(listed.find((e) => e.name === 'site-17')?.profile?.ingress).toEqual({ rateKbit: 10_000 });
    expect(listed.find((e) => e.name === 'fibre-business')?.origin).toBe('bundled');
    expect(listed.find((e) => e.name === 'broken')?.error?.code).toBe('ERR_PROFILE_INVALID');
  });

  it('`delay: none` in a child drops the parent delay and what depends on it', async () => {
    const p = await loadProfile('site-17', { dirs: [a], env: {} });
    expect(p.ingress).toEqual({ loss: { model: 'gilbert-elliott', pPct: 0.05, rPct: 50, oneMinusHPct: 100, oneMinusKPct: 0 }, keepOrder: true, rateKbit: 10_000 });
    expect(p.egress.delayMs).toBe(60); // from a/lte-good.yaml, which extends the bundled one
  });

  it('refuses an extends cycle, naming it', async () => {
    const e = await rejection(loadProfile('loop-x', { dirs: [a], env: {} }));
    expect(e.code).toBe('ERR_PROFILE_INVALID');
    expect(e.message).toBe(`${join(a, 'loop-y.yaml')}: extends cycle: loop-x -> loop-y -> loop-x`);
  });

  it('refuses extends of a missing profile', async () => {
    const e = await rejection(loadProfile('orphan', { dirs: [a], env: {} }));
    expect(e.code).toBe('ERR_PROFILE_INVALID');
    expect(e.details['problems']).toEqual([`${join(a, 'orphan.yaml')}: extends: no profile named "no-such-profile" in ${a}, ${bundledProfilesDir()}`]);
  });

  it('reports invalid YAML and invalid profiles with the path', async () => {
    const broken = await rejection(loadProfile('broken', { dirs: [a], env: {} }));
    expect(broken.code).toBe('ERR_PROFILE_INVALID');
    expect((broken.details['problems'] as string[])[0]).toMatch(new RegExp(`^${join(a, 'broken.yaml')}: line \\d+, column \\d+: .*\\(not valid YAML\\)$`));
    const typo = await rejection(loadProfile(join(a, 'typo.yaml'), noEnv));
    expect(typo.details['problems']).toEqual([`${join(a, 'typo.yaml')}: egress.dealy: unknown field (did you mean "delay"?)`]);
    const misnamed = await rejection(loadProfile('misnamed', { dirs: [a], env: {} }));
    expect(misnamed.details['problems']).toEqual([
      `${join(a, 'misnamed.yaml')}: name: must match the file name (got "store-18", file misnamed.yaml); rename the file or drop name:`,
    ]);
    const scalar = await rejection(loadProfile(join(a, 'scalar.yaml'), noEnv));
    expect(scalar.details['problems']).toEqual([`${join(a, 'scalar.yaml')}: expected a mapping with description and egress/ingress (got "just a string")`]);
  });

  it('not found: unknown names, missing files, missing dirs', async () => {
    const e1 = await rejection(loadProfile('no-such-profile', noEnv));
    expect(e1.code).toBe('ERR_PROFILE_NOT_FOUND');
    expect(e1.message).toBe('no profile named "no-such-profile"');
    const e2 = await rejection(loadProfile(join(root, 'missing.yaml'), noEnv));
    expect(e2.code).toBe('ERR_PROFILE_NOT_FOUND');
    expect(e2.message).toBe(`${join(root, 'missing.yaml')}: no such file`);
    const e3 = await rejection(loadProfile('lte-good', { dirs: [join(root, 'nope')], env: {} }));
    expect(e3.code).toBe('ERR_PROFILE_NOT_FOUND');
    expect(e3.message).toBe(`profile directory ${join(root, 'nope')} does not exist or is not a directory`);
  });

  it.each(['../../etc/passwd', '../a/lte-good', 'a/b', '.hidden', 'UPPER', ''])('a name cannot leave the profile dirs: %j', async (name) => {
    const e = await rejection(loadProfile(name, { dirs: [a], env: {} }));
    expect(e.code).toBe('ERR_PROFILE_NOT_FOUND');
    expect(e.message).toBe(`${JSON.stringify(name)} is not a profile name or a .yaml file`);
  });

  it('with allowPaths false (remote callers) even a .yaml path is refused', async () => {
    const e = await rejection(loadProfile(join(a, 'typo.yaml'), { env: {}, allowPaths: false }));
    expect(e.code).toBe('ERR_PROFILE_NOT_FOUND');
    expect(e.message).toBe(`${JSON.stringify(join(a, 'typo.yaml'))} is not a profile name`);
  });
});

describe('mergeExtends', () => {
  it('keeps a hostile __proto__ key as an own field, so the parser reports it instead of ignoring it', async () => {
    const merged = mergeExtends({ description: 'P', egress: { delay: '5ms' } }, JSON.parse('{"egress": {"__proto__": {"delay": "1ms"}}}') as Record<string, unknown>);
    expect(Object.keys(merged['egress'] as object)).toEqual(['delay', '__proto__']);
    const { parseProfile } = await import('../../core/profile-parse.js');
    expect(() => parseProfile({ name: 'x', ...merged })).toThrow(BackhaulError);
  });

  it('merges directions field by field, replaces the schedule, drops ingress/schedule on none', () => {
    const parent = { name: 'p', description: 'P', source: 'S', egress: { delay: '5ms', jitter: '1ms', rate: '1mbit', overhead: 20 }, ingress: { delay: '5ms' }, schedule: { phases: [] } };
    expect(mergeExtends(parent, { extends: 'p', egress: { rate: 'none', loss: '1%' }, ingress: 'none', schedule: 'none' })).toEqual({
      description: 'P',
      source: 'S',
      egress: { delay: '5ms', jitter: '1ms', rate: 'none', loss: '1%' },
    });
  });
});
