/**
 * NetemBackend's contracts with a fake exec (unit tier): a failed apply reverts what it left; a
 * plan that needs netem on a kernel without it fails before anything runs; target validation.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import { isBackhaulError } from '../../../core/errors.js';
import type { Capabilities } from '../../../agent/netem/capabilities.js';
import { NetemBackend } from '../../../agent/netem/netem-backend.js';
import { TcRunner, type Exec } from '../../../agent/netem/runner.js';

const CAPS: Capabilities = {
  kernel: 'test', iproute2: '6.1.0', ifb: 'yes', u32: 'yes', mirred: 'yes', netemSeed: false, netAdmin: true,
  qdisc: { netem: 'no', htb: 'yes', tbf: 'yes', pfifo: 'yes', ingress: 'yes' },
};
const RATE: Profile = { name: 'rate', description: 'r', egress: { rateKbit: 1000 } };
const DELAY: Profile = { name: 'delay', description: 'd', egress: { delayMs: 50 } };

/** A fake device: after a batch that "fails" midway, our htb is left behind (tc's batch is not transactional). */
function fakeKernel(failBatch: boolean): { exec: Exec; log: string[] } {
  const log: string[] = [];
  let htbPresent = false;
  const exec: Exec = async (file, args, opts) => {
    const line = `${file} ${args.join(' ')}`;
    log.push(opts.input ? `${line} <<< ${opts.input.trim().split('\n').join(' ; ')}` : line);
    const ok = { stdout: '', stderr: '', exitCode: 0, timedOut: false, notFound: false };
    if (file === 'ip') return { ...ok, exitCode: 1, stderr: 'Device "bh" does not exist.' };
    if (file === 'ethtool') return ok;
    if (args.includes('qdisc') && args.includes('show')) {
      return { ...ok, stdout: JSON.stringify(htbPresent ? [{ kind: 'htb', handle: 'bac0:', root: true, options: {} }] : [{ kind: 'noqueue', handle: '0:', root: true, options: {} }]) };
    }
    if (args.includes('show')) return { ...ok, stdout: args.includes('class') ? '' : '[]' };
    if (args.includes('-batch')) {
      htbPresent = true;
      if (failBatch) return { ...ok, exitCode: 1, stderr: 'RTNETLINK answers: Invalid argument\nCommand failed -:3\n' };
      return ok;
    }
    if (args.includes('del')) htbPresent = false;
    return ok;
  };
  return { exec, log };
}

const target = { kind: 'netem' as const, dev: 'eth0', direction: 'egress' as const };
const stateDir = (): string => join(mkdtempSync(join(tmpdir(), 'bh-unit-')), 'state');

describe('NetemBackend (fake exec)', () => {
  it('a failed apply reverts what the partial batch left, then reports the original error', async () => {
    const k = fakeKernel(true);
    const b = new NetemBackend({ runner: new TcRunner({ exec: k.exec }), capabilities: CAPS, stateDir: stateDir() });
    try {
      await b.apply(target, RATE);
      expect.unreachable();
    } catch (e) {
      expect(isBackhaulError(e) && e.code).toBe('ERR_TC_FAILED');
      expect(isBackhaulError(e) && e.details['stderr']).toMatch(/Invalid argument/);
    }
    expect(k.log.at(-1)).toBe('tc qdisc del dev eth0 root');
  });

  it('a netem profile on a kernel without netem fails before running anything', async () => {
    const k = fakeKernel(false);
    const b = new NetemBackend({ runner: new TcRunner({ exec: k.exec }), capabilities: CAPS, stateDir: stateDir() });
    await expect(b.apply(target, DELAY)).rejects.toMatchObject({ code: 'ERR_CAPABILITY_MISSING' });
    expect(k.log.some((l) => l.includes('-batch') || l.includes(' add '))).toBe(false);
  });

  it('apply runs one tc batch, records the profile, and status reads it back live', async () => {
    const k = fakeKernel(false);
    const b = new NetemBackend({ runner: new TcRunner({ exec: k.exec }), capabilities: CAPS, stateDir: stateDir() });
    const applied = await b.apply(target, RATE);
    expect(k.log.filter((l) => l.includes('-batch'))).toHaveLength(1);
    expect(applied.profileName).toBe('rate');
    await b.revert(target);
    expect(await b.status(target)).toBeNull();
  });

  it.each([
    [{ ...target, dev: 'eth0;reboot' }, 'ERR_INVALID_INTERFACE'],
    [{ ...target, netns: '../x' }, 'ERR_INVALID_NETNS'],
    [{ ...target, match: [{ peer: '10.0.0.1/8' }] }, 'ERR_INVALID_MATCH'],
    [{ kind: 'relay', proto: 'udp', listen: ':1', upstream: 'x:1' }, 'ERR_UNSUPPORTED'],
  ])('rejects a bad target before touching anything: %j', async (t, code) => {
    const k = fakeKernel(false);
    const b = new NetemBackend({ runner: new TcRunner({ exec: k.exec }), capabilities: CAPS, stateDir: stateDir() });
    await expect(b.apply(t as never, RATE)).rejects.toMatchObject({ code });
    expect(k.log).toEqual([]);
  });
});
