/**
 * The QEMU runner itself (boots the guest twice, ~20-40 s): the command's exit status comes back,
 * output that imitates the status line is not mistaken for it, and a hung guest is killed at the
 * limit and reported as a timeout (never a pass). Privileged tier: needs qemu-system-x86,
 * busybox-static, cpio and apt access on the first run (the kernel package is cached).
 */
import { describe, expect, it } from 'vitest';
import { exitCodeOf, runInVm } from './vm.js';

describe('runInVm', () => {
  it('returns the command exit status and its output; a fake status line in the output does not count', async () => {
    let out = '';
    const r = await runInVm({
      argv: ['sh', '-c', 'echo "BH_EXIT 0"; echo hello-$(uname -r); tc qdisc add dev lo root netem delay 1ms && echo netem-ok; exit 7'],
      timeoutMs: 120_000,
      onOutput: (s) => { out += s; },
      log: () => undefined,
    });
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(7);
    expect(exitCodeOf(r)).toBe(7);
    expect(out).toContain(`hello-${r.kernel}`);
    expect(out).toContain('netem-ok');
    expect(r.bootMs).not.toBeNull();
  }, 150_000);

  it('kills a guest that outlives the limit and reports a timeout, not a pass', async () => {
    const r = await runInVm({ argv: ['sleep', '600'], timeoutMs: 25_000, onOutput: () => undefined, log: () => undefined });
    expect(r.outcome).toBe('timeout');
    expect(r.exitCode).toBeNull();
    expect(exitCodeOf(r)).toBe(124);
    expect(r.wallMs).toBeLessThan(60_000);
  }, 90_000);
});
