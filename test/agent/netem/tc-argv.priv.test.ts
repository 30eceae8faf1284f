/**
 * Real tc's parser accepts every netem command the planner emits, for every bundled profile and
 * every schedule phase. On a kernel without sch_netem, tc parses the arguments in userspace first:
 * a malformed one exits 1 with tc's own complaint, a well-formed one reaches the kernel and exits 2
 * with "Specified qdisc kind is unknown". On a kernel with netem it must simply succeed.
 * Each command runs on `lo` of a scratch namespace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns } from '../../support/netns.js';
import { bundledProfiles, netemCommandsOf, type NetemCommand } from './bundled-plans.js';
import { TcRunner } from '../../../agent/netem/runner.js';
import { probeNetemSeed } from '../../../agent/netem/capabilities.js';

let ns: Netns;
let kernelHasNetem = false;
let commands: NetemCommand[] = [];

beforeAll(async () => {
  ns = await Netns.create('bta');
  const probe = await ns.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { allowFail: true });
  kernelHasNetem = probe.exitCode === 0;
  if (kernelHasNetem) await ns.exec(['tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
  const seed = await probeNetemSeed(new TcRunner());
  for (const p of await bundledProfiles()) commands.push(...netemCommandsOf(p, seed));
});

afterAll(async () => {
  await ns?.destroy();
});

describe('real tc accepts every planned netem command', () => {
  it('there are commands to check (profiles with netem fields, and phases)', () => {
    expect(commands.length).toBeGreaterThan(40);
    expect(commands.some((c) => c.phase !== 'base')).toBe(true);
  });

  it('a malformed netem command is told apart (exit 1, tc complains before the kernel)', async () => {
    const r = await ns.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '10ms', '5ms', '.5'], { allowFail: true });
    expect(r.exitCode).toBe(1); // correlation tokens must start with a digit
    expect(r.stderr).toMatch(/What is "\.5"/);
    const r2 = await ns.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'gap', '5'], { allowFail: true });
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toMatch(/gap specified without reorder/);
  });

  it('every command of every bundled profile and phase', async () => {
    const failures: string[] = [];
    for (const c of commands) {
      const r = await ns.exec(['tc', 'qdisc', 'add', 'dev', 'lo', 'root', ...c.args], { allowFail: true });
      const ok = kernelHasNetem ? r.exitCode === 0 : r.exitCode === 2 && /Specified qdisc kind is unknown/.test(r.stderr);
      if (!ok) failures.push(`${c.profile} ${c.phase}: exit ${r.exitCode} ${r.stderr.trim().split('\n')[0]} <- tc qdisc add dev lo root ${c.args.join(' ')}`);
      if (kernelHasNetem && r.exitCode === 0) await ns.exec(['tc', 'qdisc', 'del', 'dev', 'lo', 'root']);
    }
    expect(failures).toEqual([]);
  });
});
