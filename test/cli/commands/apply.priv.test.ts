/**
 * `apply --dry-run` needs no root: the CLI, bundled, runs as an unprivileged user (nobody) and
 * prints the plan; the interface is untouched. (Privileged tier only because creating the
 * namespace and dropping privileges need root.)
 */
import { build } from 'esbuild';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, run } from '../../support/netns.js';

let ns: Netns;
let entry: string;
let dir: string;

beforeAll(async () => {
  ns = await Netns.create('btd');
  await ns.exec(['ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
  // Bundle under the repo (.cache/) so the bundled profiles are found next to package.json.
  mkdirSync(join(process.cwd(), '.cache'), { recursive: true });
  dir = mkdtempSync(join(process.cwd(), '.cache', 'dry-run-'));
  chmodSync(dir, 0o755); // readable by nobody
  await build({ entryPoints: ['cli/main.ts'], bundle: true, platform: 'node', format: 'esm', outfile: join(dir, 'cli.mjs'), packages: 'external', logLevel: 'error' });
  entry = join(dir, 'run.mjs');
  writeFileSync(entry, "const { main } = await import('./cli.mjs');\nprocess.exitCode = await main(process.argv);\n");
});

afterAll(async () => {
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const asNobody = (args: string[]) => run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'node', entry, ...args], { allowFail: true });

describe('apply --dry-run without privileges', () => {
  it('prints tc/ip lines for the current namespace (state readable without root)', async () => {
    const r = await asNobody(['apply', 'fibre-business', '--dev', 'lo', '--direction', 'egress', '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'tc qdisc add dev lo root handle bac0: htb default 10 direct_qlen 1000',
      expect.stringMatching(/^tc class replace dev lo parent bac0: classid bac0:10 htb rate \d+kbit /),
      expect.stringMatching(/^tc qdisc add dev lo parent bac0:10 handle bac1: netem limit \d+ delay /),
    ]);
  });

  it('in a namespace it cannot enter, plans for a default interface and says so', async () => {
    const before = (await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', 'd0'])).stdout;
    const r = await asNobody(['apply', 'fibre-business', '--dev', 'd0', '--netns', ns.name, '--dry-run']);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.every((l) => l.startsWith(`tc -n ${ns.name} `) || l.startsWith(`ip -n ${ns.name} `))).toBe(true);
    expect(r.stderr).toMatch(/could not read d0's current tc state/);
    expect((await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', 'd0'])).stdout).toBe(before);
  });

  it('a real apply without privileges fails with exit 3 and what to do', async () => {
    const r = await asNobody(['apply', 'fibre-business', '--dev', 'lo', '--direction', 'egress']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/CAP_NET_ADMIN/);
  });
});

describe('apply --follow and Ctrl-C', () => {
  it('SIGINT stops the schedule and clears the interface (exit 0)', async () => {
    const profileDir = mkdtempSync(join(process.cwd(), '.cache', 'follow-'));
    try {
      writeFileSync(join(profileDir, 'steps.yaml'), [
        'name: steps', 'description: rate steps', 'egress:', '  rate: 8mbit', 'schedule:', '  loop: true', '  phases:',
        '    - { name: slow, duration: 300ms, egress: { rate: 2mbit } }', '    - { name: fast, duration: 300ms }', '',
      ].join('\n'));
      const pristine = (await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', 'd0'])).stdout;
      const child = execa('node', [entry, 'apply', join(profileDir, 'steps.yaml'), '--dev', 'd0', '--netns', ns.name, '--follow'],
        { reject: false, env: { BACKHAUL_STATE_DIR: join(profileDir, 'state') } });
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no phase line within 60 s: ${out}`)), 60_000);
        child.stdout?.on('data', (b: Buffer) => {
          out += b.toString();
          if (/ fast until /.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      expect((await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', 'd0'])).stdout).toContain('"handle":"bac0:"');
      child.kill('SIGINT');
      const r = await child;
      expect(r.exitCode).toBe(0);
      expect(String(r.stdout)).toContain('cleared d0');
      expect((await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', 'd0'])).stdout).toBe(pristine);
    } finally {
      rmSync(profileDir, { recursive: true, force: true });
    }
  });
});
