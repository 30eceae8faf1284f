import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from '../../support/cli-in-process.js';


let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backhaul-cli-profiles-'));
  writeFileSync(join(dir, 'store-17.yaml'), 'description: store 17 uplink\nextends: lte-good\negress:\n  delay: 40ms\n');
  writeFileSync(join(dir, 'bad.yaml'), 'description: bad\negress:\n  delay: 80\n  loss: 140%\n  jiter: 5ms\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('backhaul profiles list', () => {
  it('prints a table of the bundled profiles', async () => {
    const r = await run(['profiles', 'list']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+UPLINK\s+DOWNLINK\s+SCHEDULE\s+DESCRIPTION$/);
    expect(lines.length).toBeGreaterThanOrEqual(21);
    expect(r.out).toMatch(/\nlte-good\s+25ms±5ms 8Mbit\/s 0\.1% burst\s+20ms±5ms 30Mbit\/s 0\.1% burst\s+-\s+LTE with good signal/);
    expect(r.out).toMatch(/\nleo-starlink\s+.*\s+loop 12\s+Starlink/);
  });

  it('--json gives an array of objects with name, description, source, asymmetric, scheduled', async () => {
    const r = await run(['profiles', 'list', '--json']);
    expect(r.code).toBe(0);
    const arr = JSON.parse(r.out) as Record<string, unknown>[];
    expect(arr.length).toBeGreaterThanOrEqual(20);
    for (const e of arr) {
      expect(typeof e['name']).toBe('string');
      expect(typeof e['description']).toBe('string');
      expect(typeof e['source']).toBe('string');
      expect(typeof e['asymmetric']).toBe('boolean');
      expect(typeof e['scheduled']).toBe('boolean');
    }
    expect(arr.find((e) => e['name'] === 'cable-docsis')).toMatchObject({ asymmetric: true, scheduled: false, origin: 'bundled' });
    expect(arr.find((e) => e['name'] === 'fibre-business')).toMatchObject({ asymmetric: false });
    expect(arr.find((e) => e['name'] === 'failover-vrrp')).toMatchObject({ scheduled: true });
  });

  it('includes user profiles from --profiles (before or after the subcommand) and BACKHAUL_PROFILES', async () => {
    for (const args of [['--profiles', dir, 'profiles', 'list', '--json'], ['profiles', 'list', '--profiles', dir, '--json'], ['profiles', '--profiles', dir, 'list', '--json']]) {
      const arr = JSON.parse((await run(args)).out) as Record<string, unknown>[];
      expect(arr.find((e) => e['name'] === 'store-17')).toMatchObject({ origin: 'user', valid: true, description: 'store 17 uplink' });
      expect(arr.find((e) => e['name'] === 'bad')).toMatchObject({ origin: 'user', valid: false, error: { code: 'ERR_PROFILE_INVALID' } });
    }
    const viaEnv = await run(['profiles', 'list'], { BACKHAUL_PROFILES: dir });
    expect(viaEnv.out).toMatch(/\nstore-17 \*\s+40ms±5ms/);
    expect(viaEnv.out).toMatch(/\nbad\s+-\s+-\s+-\s+INVALID: .*bad\.yaml is not a valid profile \(3 problems\)/);
  });
});

describe('backhaul profiles show', () => {
  it('shows the fields and the plain-English description', async () => {
    const r = await run(['profiles', 'show', 'dsl-rural-poor']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dsl-rural-poor: Long rural copper loop');
    expect(r.out).toContain('Uplink (egress): adds 35 ms +/- 10 ms delay (normal), bursty loss averaging about 2% in bursts of ~4 packets, rate limited to 256 kbit/s. Downlink (ingress): ');
    expect(r.out).toContain('  rateKbit: 256');
  });

  it('--json: profile, describe and the effective netem limits', async () => {
    const r = await run(['profiles', 'show', 'geo-satellite', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { profile: { name: string; ingress: { delayMs: number } }; describe: string; effectiveLimitPackets: Record<string, number> };
    expect(j.profile.name).toBe('geo-satellite');
    expect(j.profile.ingress.delayMs).toBe(300);
    expect(j.describe).toMatch(/^Uplink \(egress\): adds 300 ms/);
    // 25 Mbit/s x (300 + 4*10 + 20) ms x 1.5 / 12000 B = 1125
    expect(j.effectiveLimitPackets).toEqual({ egress: 1000, ingress: 1125 });
  });

  it('--timeline previews the schedule on the wall clock (aligned, seeded, repeatable)', async () => {
    const args = ['profiles', 'show', 'leo-starlink', '--timeline', '20s', '--start', '2026-01-01T00:00:07Z', '--seed', '1', '--json'];
    const r = await run(args);
    expect(r.code).toBe(0);
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const j = JSON.parse(r.out) as { seed: number; timeline: unknown[] };
    expect(j.seed).toBe(1);
    expect(j.timeline).toEqual([
      { phaseIndex: null, phase: 'base', startMs: t0 + 7000, endMs: t0 + 15_000 },
      { phaseIndex: 0, phase: 'slot1-handover', startMs: t0 + 15_000, endMs: t0 + 15_100 },
      { phaseIndex: 1, phase: 'slot1-spike', startMs: t0 + 15_100, endMs: t0 + 16_000 },
      { phaseIndex: 2, phase: 'slot1', startMs: t0 + 16_000, endMs: t0 + 30_000 },
    ]);
    const human = await run(args.slice(0, -1));
    expect(human.out).toContain('timeline (seed 1; the same seed and start give the same timeline):');
    expect(human.out).toMatch(/2026-01-01T00:00:15\.000Z\s+2026-01-01T00:00:15\.100Z\s+100 ms\s+slot1-handover/);
    const bfd = JSON.parse((await run(['profiles', 'show', 'failover-bfd-fast', '--timeline', '1m', '--start', '0', '--seed', '3', '--json'])).out) as { timeline: { phase: string; startMs: number; endMs: number | null }[] };
    expect(bfd.timeline.map((x) => x.phase)).toEqual(['primary', 'link-cut', 'base (tail)']);
    const cut = bfd.timeline[1] as { startMs: number; endMs: number };
    expect(cut.endMs - cut.startMs).toBeGreaterThanOrEqual(150);
    expect(cut.endMs - cut.startMs).toBeLessThanOrEqual(900);
    expect(bfd.timeline[2]?.endMs).toBeNull();
  });

  it.each([
    [['--timeline', 'soon'], '--timeline: expected a duration such as 80ms, 1.5s, 500us or 2m (got "soon")'],
    [['--timeline', '1m', '--seed', '-1'], '--seed: expected a whole number 0..2147483647 (got "-1")'],
    [['--timeline', '1m', '--start', 'yesterday'], '--start: expected an ISO 8601 time or Unix milliseconds (got "yesterday")'],
  ])('bad timeline flags %j exit 2', async (flags, message) => {
    const r = await run(['profiles', 'show', 'leo-starlink', ...flags]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`backhaul: ${message}\n`);
  });

  it('shows a file by path, resolving extends against the search path', async () => {
    const r = await run(['profiles', 'show', join(dir, 'store-17.yaml'), '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { profile: { egress: { delayMs: number; rateKbit: number } } }).profile.egress).toMatchObject({ delayMs: 40, rateKbit: 8000 });
  });

  it('collects --profiles from after the subcommand first, then before it, then BACKHAUL_PROFILES', async () => {
    const other = mkdtempSync(join(tmpdir(), 'backhaul-cli-profiles2-'));
    try {
      writeFileSync(join(other, 'store-17.yaml'), 'description: the other store 17\negress:\n  delay: 1ms\n');
      const desc = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> =>
        (JSON.parse((await run(args, env)).out) as { profile: { description: string } }).profile.description;
      expect(await desc(['--profiles', other, 'profiles', 'show', 'store-17', '--profiles', dir, '--json'])).toBe('store 17 uplink');
      expect(await desc(['--profiles', dir, 'profiles', 'show', 'store-17', '--profiles', other, '--json'])).toBe('the other store 17');
      expect(await desc(['--profiles', other, 'profiles', 'show', 'store-17', '--json'], { BACKHAUL_PROFILES: dir })).toBe('the other store 17');
      expect(await desc(['profiles', 'show', 'store-17', '--json'], { BACKHAUL_PROFILES: `${other}:${dir}` })).toBe('the other store 17');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('unknown names exit 2 with a hint; --json errors are JSON on stderr', async () => {
    const r = await run(['profiles', 'show', 'no-such']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^backhaul: no profile named "no-such"\n  hint: searched .*profiles; run `backhaul profiles list`\n$/);
    const j = await run(['profiles', 'show', '../../etc/passwd', '--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.err)).toMatchObject({ error: { code: 'ERR_PROFILE_NOT_FOUND', message: '"../../etc/passwd" is not a profile name or a .yaml file' } });
  });
});

describe('backhaul profiles validate', () => {
  it('exit 0 when all are valid', async () => {
    const r = await run(['profiles', 'validate', join(dir, 'store-17.yaml'), 'leo-starlink']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(`ok       ${join(dir, 'store-17.yaml')} (store-17)\nok       leo-starlink (leo-starlink)\n`);
  });

  it('exit 2 listing every problem of every invalid file', async () => {
    const bad = join(dir, 'bad.yaml');
    const missing = join(dir, 'missing.yaml');
    const r = await run(['profiles', 'validate', bad, missing, 'fibre-business']);
    expect(r.code).toBe(2);
    expect(r.out).toBe(
      [
        `invalid  ${bad}`,
        `  - ${bad}: egress.delay: needs a unit, e.g. 80ms or 80s (got bare number 80)`,
        `  - ${bad}: egress.loss: must be 0..100% (got 140%)`,
        `  - ${bad}: egress.jiter: unknown field (did you mean "jitter"?)`,
        `invalid  ${missing}`,
        `  - ${missing}: no such file`,
        'ok       fibre-business (fibre-business)',
        '',
      ].join('\n'),
    );
    expect(r.err).toBe('backhaul: 2 of 3 profiles invalid\n');
  });

  it('--json: an array of results', async () => {
    const r = await run(['profiles', 'validate', '--json', join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out) as { file: string; valid: boolean; problems: string[] }[];
    expect(j).toHaveLength(1);
    expect(j[0]).toMatchObject({ file: join(dir, 'bad.yaml'), valid: false });
    expect(j[0]?.problems).toHaveLength(3);
  });

  it('validates every bundled profile file', async () => {
    const list = JSON.parse((await run(['profiles', 'list', '--json'])).out) as { path: string }[];
    const r = await run(['profiles', 'validate', ...list.map((e) => e.path)]);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n')).toHaveLength(list.length);
  });

  it('needs at least one file (usage error, exit 2)', async () => {
    const r = await run(['profiles', 'validate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain("missing required argument 'file'");
  });
});
