/**
 * `backhaul campaign run` on the bundled in-process campaigns (loopback, no root): the one meant
 * to fail exits 1 with exactly its failing assertions (and a failing hook fails its step); a
 * campaign with an unreachable agent exits 2 before touching anything; validation errors exit 2.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservePort } from '../support/ports.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/backhaul.js');
const cli = (args: string[], cwd: string) => execa(process.execPath, [CLI, ...args], { cwd, reject: false, timeout: 90_000 });

/**
 * A bundled campaign as is, but with each fixed loopback port it names (relay listen addresses,
 * probe targets) replaced, consistently, by a reserved one (test/support/ports.ts): another test
 * run on the same machine (or anything else) may hold the example's port, and a relay that cannot
 * bind fails the step with EADDRINUSE.
 */
async function withOwnPorts(name: string, dir: string): Promise<string> {
  const text = await readFile(join(ROOT, 'campaigns', name), 'utf8');
  const ports = new Map<string, number>();
  for (const [, port] of text.matchAll(/127\.0\.0\.1:(\d+)/g)) if (!ports.has(port as string)) ports.set(port as string, await reservePort());
  const file = join(dir, name);
  await writeFile(file, text.replace(/127\.0\.0\.1:(\d+)/g, (_m, port: string) => `127.0.0.1:${ports.get(port)}`));
  return file;
}

describe('backhaul campaign run (in-process sites)', () => {
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm ci does it)');
    dir = await mkdtemp(join(tmpdir(), 'bh-camp-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('meant-to-fail exits 1; the failing assertions and the failed hook are the ones reported', { timeout: 90_000 }, async () => {
    const out = join(dir, 'mtf');
    const r = await cli(['campaign', 'run', await withOwnPorts('meant-to-fail.yaml', dir), '--out', out, '--baseline', '1s'], dir);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const res = JSON.parse(await readFile(join(out, 'result.json'), 'utf8'));
    const failed = res.steps.flatMap((s: any) => s.assertions.filter((a: any) => !a.passed && a.scope !== 'conformance').map((a: any) => `${s.name}: ${a.target}: ${a.text}`));
    expect(failed).toEqual(['lte-cell-edge: pos: rtt.p99 < 100ms', 'lte-cell-edge: smoke: exit == 0']);
    const hook = res.steps[1].hooks[0];
    expect(hook).toMatchObject({ name: 'smoke', exitCode: 3 });
    expect(res.steps[0].hooks[0]).toMatchObject({ name: 'smoke', exitCode: 0 });
    expect(res.reverts.filter((x: any) => !x.ok)).toEqual([]);
    const junit = new XMLParser({ ignoreAttributes: false, isArray: (n) => n === 'testsuite' || n === 'testcase' }).parse(await readFile(join(out, 'junit.xml'), 'utf8'));
    const cases = junit.testsuites.testsuite.flatMap((s: any) => s.testcase);
    expect(cases).toHaveLength(res.steps.reduce((n: number, s: any) => n + s.assertions.length, 0));
    expect(cases.filter((c: any) => c.failure).map((c: any) => c['@_name'])).toEqual(expect.arrayContaining(['pos: rtt.p99 < 100ms', 'smoke: exit == 0']));
  });

  it('satellite-site (GEO, then LEO with its 15 s reconfiguration) passes: exit 0', { timeout: 90_000 }, async () => {
    const out = join(dir, 'sat');
    const r = await cli(['campaign', 'run', await withOwnPorts('satellite-site.yaml', dir), '--out', out, '--baseline', '1s', '--json'], dir);
    const res = JSON.parse(String(r.stdout));
    const failed = res.steps.flatMap((s: any) => s.assertions.filter((a: any) => !a.passed));
    expect(failed, JSON.stringify(failed, null, 1)).toEqual([]);
    expect(r.exitCode).toBe(0);
    const [geo, leo] = res.steps.map((s: any) => s.probes[0].summary.rttMs.p50);
    expect(geo).toBeGreaterThan(leo);
    // LEO's schedule: the phases switched during the step are on the timeline
    expect(res.steps[1].spans.filter((sp: any) => sp.kind === 'phase').length).toBeGreaterThan(0);
  });

  it('an unreachable agent: exit 2 after pre-flight, nothing touched', async () => {
    const file = join(dir, 'unreachable.yaml');
    await writeFile(
      file,
      [
        'name: unreachable',
        'agents: [{ name: far, url: "http://127.0.0.1:9" }]',
        'steps:',
        '  - { name: s, duration: 1s, impairments: [{ agent: far, dev: eth0, profile: fibre-business }], probes: [{ name: p, from: far, to: "127.0.0.1:862" }], assertions: ["loss < 1%"] }',
      ].join('\n'),
    );
    const r = await cli(['campaign', 'run', file, '--out', join(dir, 'u'), '--json'], dir);
    expect(r.exitCode).toBe(2);
    const res = JSON.parse(String(r.stdout));
    expect(res.verdict).toBe('error');
    expect(res.steps).toEqual([]);
    expect(res.error).toMatch(/pre-flight failed, no site was touched: agent far \(http:\/\/127\.0\.0\.1:9\) is not reachable/);
    const junit = await readFile(join(dir, 'u', 'junit.xml'), 'utf8');
    expect(junit).toMatch(/pre-flight checks/);
  });

  it('an invalid campaign file: exit 2 with every problem and its path', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'name: bad\nagents: [{ name: a, url: in-process }]\nsteps:\n  - { name: s, duration: 5, probes: [{ name: p, from: b, to: "x:1" }], assertions: ["rtt.p99 < 5"] }\n');
    const r = await cli(['campaign', 'run', file], dir);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toMatch(/steps\[0\]\.duration: /);
  });
});
