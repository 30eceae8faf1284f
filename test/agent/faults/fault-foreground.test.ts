import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { BackhaulError } from '../../../core/errors.js';
import { runFaultForeground, shellQuote, type ForegroundEvent } from '../../../agent/faults/fault-foreground.js';
import { planFault } from '../../../agent/faults/fault-plan.js';
import { argvText } from '../../../agent/faults/fault-manager.js';
import { linkIsUp, missingCaps, sshClient } from '../../../cli/commands/fault-local.js';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function harness(opts: { failOn?: (argv: string[]) => boolean; guardFails?: boolean } = {}) {
  const clock = new FakeClock(1_000_000);
  const log: string[] = [];
  const plans: string[][][] = [];
  const events: ForegroundEvent[] = [];
  const deps = {
    clock,
    run: async (argv: string[]) => {
      log.push(argv.at(-1) === 'up' || argv.at(-1) === 'down' ? (argv.at(-1) as string) : argv.includes('delete') ? 'del' : 'nft');
      if (opts.failOn?.(argv)) throw new BackhaulError('ERR_TC_FAILED', `${argv[0]} said no`);
    },
    guard: { setPlan: async (p: string[][]) => { if (opts.guardFails) throw new Error('no guard'); plans.push(p); } },
    onEvent: (e: ForegroundEvent) => events.push(e),
  };
  return { clock, log, plans, events, deps };
}

describe('runFaultForeground', () => {
  it('flap: the guard holds the restore first; start/restore per period at the planned times; the guard is emptied at the end', async () => {
    const h = harness();
    const f = { kind: 'flap' as const, dev: 'e0', downMs: 100, upMs: 50, count: 2 };
    const p = runFaultForeground(f, h.deps);
    await flush();
    expect(h.plans).toEqual([[planFault(f).restore]]);
    expect(h.log).toEqual(['down']);
    await h.clock.advance(100);
    await flush();
    expect(h.log).toEqual(['down', 'up']);
    await h.clock.advance(50);
    await flush();
    await h.clock.advance(100);
    const r = await p;
    expect(h.log).toEqual(['down', 'up', 'down', 'up']);
    expect(r).toEqual({ kind: 'flap', startMs: 1_000_000, endMs: 1_000_250, periodsDone: 2, interrupted: false, restored: true });
    expect(h.events.map((e) => [e.type, e.period, e.atMs])).toEqual([['start', 1, 1_000_000], ['restore', 1, 1_000_100], ['start', 2, 1_000_150], ['restore', 2, 1_000_250]]);
    expect(h.plans.at(-1)).toEqual([]);
  });

  it('an abort in the middle restores at once and stops; an abort before the start touches nothing', async () => {
    const h = harness();
    const ac = new AbortController();
    const p = runFaultForeground({ kind: 'link-down', dev: 'e0', durationMs: 60_000 }, h.deps, ac.signal);
    await flush();
    await h.clock.advance(10);
    ac.abort();
    const r = await p;
    expect(h.log).toEqual(['down', 'up']);
    expect(r).toMatchObject({ interrupted: true, periodsDone: 1, startMs: 1_000_000, endMs: 1_000_010 });
    expect(h.events.at(-1)).toMatchObject({ type: 'restore', early: true });

    const h2 = harness();
    await expect(runFaultForeground({ kind: 'link-down', dev: 'e0', durationMs: 1 }, h2.deps, AbortSignal.abort())).rejects.toThrow(/nothing was changed/);
    expect(h2.log).toEqual([]);
    expect(h2.plans).toEqual([]);
  });

  it('an abort while the guard takes the restore: the fault never starts', async () => {
    const h = harness();
    const ac = new AbortController();
    const guard = { setPlan: async (p: string[][]) => { h.plans.push(p); ac.abort(); } };
    const r = await runFaultForeground({ kind: 'link-down', dev: 'e0', durationMs: 60_000 }, { ...h.deps, guard }, ac.signal);
    expect(h.log).toEqual([]);
    expect(r).toMatchObject({ interrupted: true, periodsDone: 0, restored: true });
    expect(h.plans.at(-1)).toEqual([]);
  });

  it('a guard that does not acknowledge: nothing is touched', async () => {
    const h = harness({ guardFails: true });
    await expect(runFaultForeground({ kind: 'blackhole', peer: '10.0.0.1/32', durationMs: 100 }, h.deps)).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
    expect(h.log).toEqual([]);
  });

  it('a failing start is restored anyway, then reported; the guard is emptied', async () => {
    const h = harness({ failOn: (a) => a.at(-1) === 'down' });
    await expect(runFaultForeground({ kind: 'link-down', dev: 'e0', durationMs: 100 }, h.deps)).rejects.toThrow(/ip said no/);
    expect(h.log).toEqual(['down', 'up']);
    expect(h.plans.at(-1)).toEqual([]);
  });

  it('a restore that fails twice: ERR_TC_FAILED saying what to run by hand; the guard keeps the restore', async () => {
    const h = harness({ failOn: (a) => a.includes('delete') });
    const f = { kind: 'blackhole' as const, peer: '10.9.0.0/24', netns: 'lab', durationMs: 100 };
    const p = runFaultForeground(f, h.deps);
    const caught = p.catch((e: unknown) => e);
    await flush();
    await h.clock.advance(100);
    const e = (await caught) as BackhaulError;
    expect(e.code).toBe('ERR_TC_FAILED');
    const by = "ip netns exec lab nft add table inet backhaul_fault_10_9_0_0_len24 ';' delete table inet backhaul_fault_10_9_0_0_len24";
    expect(e.details['restoreBy']).toBe(by);
    expect(e.message).toContain(`run by hand: ${by}`);
    expect(h.log).toEqual(['nft', 'del', 'del']);
    expect(h.plans).toEqual([[planFault(f).restore]]);
  });
});

describe('local fault helpers', () => {
  it('shellQuote quotes what a shell would split or expand', () => {
    expect(shellQuote(['ip', 'link', 'set', 'dev', 'eth0', 'up'])).toBe('ip link set dev eth0 up');
    expect(shellQuote(['nft', 'a b', ';', "it's"])).toBe(`nft 'a b' ';' 'it'\\''s'`);
  });

  it('missingCaps reads CapEff: root has all; none; CAP_NET_ADMIN only is enough outside a namespace', () => {
    expect(missingCaps('Name:\tnode\nCapEff:\t000001ffffffffff\n', { netns: true })).toEqual([]);
    expect(missingCaps('CapEff:\t0000000000000000\n', { netns: true })).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']);
    expect(missingCaps('CapEff:\t0000000000001000\n', { netns: false })).toEqual([]);
    expect(missingCaps('CapEff:\t0000000000001000\n', { netns: true })).toEqual(['CAP_SYS_ADMIN']);
    expect(missingCaps('', { netns: false })).toEqual(['CAP_NET_ADMIN']);
  });

  it('argvText abbreviates the nft script in messages; linkIsUp reads `ip -j link` flags', () => {
    expect(argvText(['ip', 'netns', 'exec', 'lab', 'nft', 'a\nb\nc'])).toBe('ip netns exec lab nft <script: 3 lines>');
    expect(argvText(['ip', 'link', 'set', 'dev', 'e0', 'up'])).toBe('ip link set dev e0 up');
    expect(linkIsUp('[{"ifname":"a0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"]}]')).toBe(true);
    expect(linkIsUp('[{"ifname":"a0","flags":["BROADCAST","MULTICAST"]}]')).toBe(false);
  });

  it('sshClient: the client address of SSH_CONNECTION or SSH_CLIENT; null outside SSH', () => {
    expect(sshClient({ SSH_CONNECTION: '192.0.2.7 51234 10.0.0.5 22' })).toBe('192.0.2.7');
    expect(sshClient({ SSH_CLIENT: 'fd00::7 51234 22' })).toBe('fd00::7');
    expect(sshClient({})).toBeNull();
    expect(sshClient({ SSH_CONNECTION: '' })).toBeNull();
  });
});
