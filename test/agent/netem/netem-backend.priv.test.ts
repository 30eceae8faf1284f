/**
 * The tc backend for real, through the CLI, in network namespaces (root; this kernel has htb, tbf,
 * ifb, u32 and mirred but no netem). Throughput is measured with iperf3 at the receiver; rates are
 * checked within 15% (htb's token bucket on veth delivers ~95% of the configured rate as goodput).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gateway, twoHosts, type Gateway, type TwoHosts } from '../../support/netns.js';
import { cli, iperfMbit, scratchDirs, writeProfile } from './cli-harness.js';
import { ifbNameFor } from '../../../agent/netem/names.js';

const dirs = scratchDirs();
const env = { BACKHAUL_STATE_DIR: dirs.stateDir, BACKHAUL_PROFILES: dirs.profileDir };
const RATE_ONLY = writeProfile(dirs.profileDir, 'rate-only', 'name: rate-only\ndescription: rate only, both ways\negress:\n  rate: 10mbit\ningress:\n  rate: 6mbit\n');
const SCHEDULED = writeProfile(dirs.profileDir, 'rate-steps', [
  'name: rate-steps', 'description: rate steps', 'egress:', '  rate: 8mbit', 'schedule:', '  loop: true', '  phases:',
  '    - { name: slow, duration: 400ms, egress: { rate: 2mbit } }', '    - { name: fast, duration: 400ms }', '',
].join('\n'));
const RATE_EGRESS = writeProfile(dirs.profileDir, 'rate-egress', 'name: rate-egress\ndescription: 5 Mbit/s uplink\negress:\n  rate: 5mbit\n');

const within = (measured: number, want: number, tol = 0.15): void => {
  expect(measured, `measured ${measured.toFixed(2)} Mbit/s, configured ${want}`).toBeGreaterThan(want * (1 - tol));
  expect(measured, `measured ${measured.toFixed(2)} Mbit/s, configured ${want}`).toBeLessThan(want * (1 + tol));
};

async function tcJson(h: TwoHosts, what: 'qdisc' | 'filter', dev = h.aIf): Promise<string> {
  return (await h.a.exec(['tc', '-j', what, 'show', 'dev', dev])).stdout;
}

async function ifbs(h: TwoHosts): Promise<string> {
  return (await h.a.exec(['ip', '-o', 'link', 'show', 'type', 'ifb'])).stdout.trim();
}

describe('netem backend on two hosts', () => {
  let h: TwoHosts;
  beforeAll(async () => {
    h = await twoHosts();
  });
  afterAll(async () => {
    await h?.destroy();
  });
  afterEach(async () => {
    await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env);
  });

  it('a rate-only profile shapes for real, both directions (egress htb, ingress via IFB), with no netem', async () => {
    const r = await cli(['apply', RATE_ONLY, '--dev', h.aIf, '--netns', h.a.name], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await tcJson(h, 'qdisc')).not.toContain('netem');
    within(await iperfMbit(h.a, h.b, h.bIp, 5201), 10);
    within(await iperfMbit(h.a, h.b, h.bIp, 5201, { reverse: true }), 6);
  });

  it('ingress via IFB is installed and removed without a trace (IFB, ingress qdisc)', async () => {
    const before = await tcJson(h, 'qdisc');
    expect(await ifbs(h)).toBe('');
    await cli(['apply', RATE_ONLY, '--dev', h.aIf, '--netns', h.a.name, '--direction', 'ingress'], env);
    const ifb = ifbNameFor(h.aIf, h.a.name);
    expect(await ifbs(h)).toContain(ifb);
    expect(await tcJson(h, 'qdisc')).toContain('"kind":"ingress"');
    const st = await cli(['status', '--dev', h.aIf, '--netns', h.a.name, '--json'], env);
    const status = JSON.parse(st.stdout) as { interfaces: { ingress?: { rateKbit?: number }; egress?: unknown }[] };
    expect(status.interfaces[0]?.ingress?.rateKbit).toBe(6000);
    expect(status.interfaces[0]?.egress).toBeUndefined();
    const c = await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env);
    expect(c.code).toBe(0);
    expect(await ifbs(h)).toBe('');
    expect(await tcJson(h, 'qdisc')).toBe(before);
  });

  it('shares an existing clsact (as eBPF CNIs install it): our redirect joins, clear leaves it byte-identical', async () => {
    await h.a.exec(['tc', 'qdisc', 'add', 'dev', h.aIf, 'clsact']);
    await h.a.exec(['tc', 'filter', 'add', 'dev', h.aIf, 'ingress', 'prio', '5', 'protocol', 'ip', 'u32', 'match', 'ip', 'src', '192.0.2.1/32', 'flowid', '1:1']);
    try {
      const qBefore = await tcJson(h, 'qdisc');
      const fBefore = (await h.a.exec(['tc', '-j', 'filter', 'show', 'dev', h.aIf, 'ingress'])).stdout;
      expect((await cli(['apply', RATE_ONLY, '--dev', h.aIf, '--netns', h.a.name, '--direction', 'ingress'], env)).code).toBe(0);
      const during = (await h.a.exec(['tc', '-j', 'filter', 'show', 'dev', h.aIf, 'ingress'])).stdout;
      expect(during).toContain('"pref":5');
      expect(during).toContain('"pref":49152');
      expect(await tcJson(h, 'qdisc')).not.toContain('"kind":"ingress"');
      within(await iperfMbit(h.a, h.b, h.bIp, 5201, { reverse: true }), 6);
      expect((await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      expect(await tcJson(h, 'qdisc')).toBe(qBefore);
      expect((await h.a.exec(['tc', '-j', 'filter', 'show', 'dev', h.aIf, 'ingress'])).stdout).toBe(fBefore);
      expect(await ifbs(h)).toBe('');
    } finally {
      await h.a.exec(['tc', 'qdisc', 'del', 'dev', h.aIf, 'clsact'], { allowFail: true });
    }
  });

  it('--match shapes only the matched peer/port; other traffic is untouched', async () => {
    const r = await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name, '--match', `peer=${h.bIp}/32,port=5201,proto=tcp`], env);
    expect(r.code).toBe(0);
    within(await iperfMbit(h.a, h.b, h.bIp, 5201), 5);
    expect(await iperfMbit(h.a, h.b, h.bIp, 5202)).toBeGreaterThan(5 * 4);
  });

  it('--match on ingress selects by the peer as source (and its port as source port)', async () => {
    const r = await cli(['apply', RATE_ONLY, '--dev', h.aIf, '--netns', h.a.name, '--direction', 'ingress', '--match', `peer=${h.bIp}/32,port=5201`], env);
    expect(r.code).toBe(0);
    within(await iperfMbit(h.a, h.b, h.bIp, 5201, { reverse: true }), 6);
    expect(await iperfMbit(h.a, h.b, h.bIp, 5202, { reverse: true })).toBeGreaterThan(6 * 4);
  });

  it('--exclude leaves the excluded peer/port unshaped and shapes the rest (IPv6 too)', async () => {
    const r = await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name, '--exclude', `peer=${h.bIp}/32,port=5202`,
      '--exclude', `peer=${h.bIp6}/128,port=5202`], env);
    expect(r.code).toBe(0);
    expect(await iperfMbit(h.a, h.b, h.bIp, 5202)).toBeGreaterThan(5 * 4);
    expect(await iperfMbit(h.a, h.b, h.bIp6, 5202)).toBeGreaterThan(5 * 4);
    within(await iperfMbit(h.a, h.b, h.bIp, 5201), 5);
    within(await iperfMbit(h.a, h.b, h.bIp6, 5201), 5);
  });

  it('apply twice = same state; B over A leaves no trace of A; clear twice succeeds', async () => {
    const pristine = [await tcJson(h, 'qdisc'), await ifbs(h)];
    const args = ['--dev', h.aIf, '--netns', h.a.name, '--match', `peer=${h.bIp}/32`];
    const snap = async (): Promise<string[]> => [
      (await tcJson(h, 'qdisc')).replace(/"direct_packets_stat":\d+,/g, ''),
      (await h.a.exec(['tc', 'class', 'show', 'dev', h.aIf])).stdout,
      await tcJson(h, 'filter'),
      await ifbs(h),
    ];
    expect((await cli(['apply', RATE_ONLY, ...args], env)).code).toBe(0);
    const once = await snap();
    expect((await cli(['apply', RATE_ONLY, ...args], env)).code).toBe(0);
    expect(await snap()).toEqual(once);
    // B (egress only, other rate, no match) over A: the IFB and A's filters and rate are gone.
    expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
    const b = await snap();
    expect(b[3]).toBe('');
    expect(b[2]).toBe('[]');
    expect(b[1]).toContain('rate 5Mbit');
    expect(b[1]).not.toContain('10Mbit');
    expect((await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
    const again = await cli(['clear', '--dev', h.aIf, '--netns', h.a.name, '--json'], env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ cleared: false });
    expect([await tcJson(h, 'qdisc'), await ifbs(h)]).toEqual(pristine);
  });

  it('--disable-offloads turns TSO/GSO/GRO off and clear restores what was there', async () => {
    const features = async (): Promise<string> =>
      (await h.a.exec(['ethtool', '-k', h.aIf])).stdout.split('\n')
        .filter((l) => /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/.test(l)).join('\n');
    await h.a.exec(['ethtool', '-K', h.aIf, 'tso', 'on', 'gso', 'on', 'gro', 'off']);
    const before = await features();
    expect(before).toMatch(/generic-segmentation-offload: on/);
    expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name, '--disable-offloads'], env)).code).toBe(0);
    expect(await features()).toMatch(/tcp-segmentation-offload: off[\s\S]*generic-segmentation-offload: off[\s\S]*generic-receive-offload: off/);
    // Applying again must not record the "off" state as the original.
    expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name, '--disable-offloads'], env)).code).toBe(0);
    expect((await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
    expect(await features()).toBe(before);
  });

  it('--follow runs the phases on real tc, then clears', async () => {
    const pristine = await tcJson(h, 'qdisc');
    const r = await cli(['apply', SCHEDULED, '--dev', h.aIf, '--netns', h.a.name, '--follow', '--for', '2000ms'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const phases = r.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3}  /.test(l)).map((l) => l.split(/\s+/)[1]);
    // 2 s of 400 ms phases: slow, fast, slow, fast, slow. A switch slower than a phase (tc under
    // heavy load) skips that phase, so assert the order, not the count: starts slow, alternates.
    expect(phases[0]).toBe('slow');
    expect(phases.length).toBeGreaterThanOrEqual(2);
    expect(phases.every((p, i) => i === 0 || p !== phases[i - 1])).toBe(true);
    expect(r.stdout).toContain(`cleared ${h.aIf}`);
    expect(await tcJson(h, 'qdisc')).toBe(pristine);
  });

  it('--follow needs a schedule, --for needs --follow', async () => {
    expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name, '--follow'], env)).stderr).toMatch(/has no schedule/);
    expect((await cli(['apply', SCHEDULED, '--dev', h.aIf, '--netns', h.a.name, '--for', '1s'], env)).code).toBe(2);
  });

  // Several tbf parameter sets: latency or limit, odd rates, a 64-bit rate, overhead/mpu, ATM.
  it.each([
    ['rate 50mbit burst 64kb latency 50ms'],
    ['rate 7777777bit burst 12345 limit 100000'],
    ['rate 300mbit burst 200000 latency 5ms overhead 24 mpu 64'],
    ['rate 2mbit burst 20000 latency 30ms linklayer atm overhead 10'],
    ['rate 50gbit burst 1mb latency 10ms'],
  ])('a foreign tbf root (%s): the whole tc -j output is byte-identical after apply + clear, traffic passes', async (params) => {
    await h.a.exec(['tc', 'qdisc', 'add', 'dev', h.aIf, 'root', 'handle', '1:', 'tbf', ...params.split(' ')]);
    // What tc -j prints, plus the raw dump (exact limit and buffer ticks) and the tbf's invisible
    // default bfifo: the kernel's state, not just its rounded rendering.
    const snapshot = async (): Promise<string[]> => Promise.all([
      tcJson(h, 'qdisc'), tcJson(h, 'filter'), h.a.exec(['tc', '-j', 'class', 'show', 'dev', h.aIf]).then((r) => r.stdout),
      h.a.exec(['tc', '-raw', '-d', '-j', 'qdisc', 'show', 'dev', h.aIf]).then((r) => r.stdout),
      h.a.exec(['tc', '-d', 'qdisc', 'show', 'dev', h.aIf, 'invisible']).then((r) => r.stdout),
    ]);
    const before = await snapshot();
    expect(before[4]).toMatch(/bfifo 0: parent 1:1/);
    try {
      expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      const during = JSON.parse(await tcJson(h, 'qdisc')) as { handle: string; parent?: string }[];
      expect(during.find((q) => q.handle === 'bac0:')?.parent).toBe('1:1');
      expect((await cli(['status', '--dev', h.aIf, '--netns', h.a.name, '--json'], env)).stdout).toMatch(/"foreignRevert": ?"exact: clear puts the tbf 1: back/);
      if (params.startsWith('rate 50mbit')) within(await iperfMbit(h.a, h.b, h.bIp, 5201), 5);
      expect((await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      expect(await snapshot()).toEqual(before);
      // Not noop under the tbf: traffic flows.
      expect((await h.a.exec(['ping', '-c', '2', '-W', '2', '-i', '0.2', h.bIp], { allowFail: true })).exitCode).toBe(0);
      // A second cycle ends in exactly the same state.
      await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env);
      await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env);
      expect(await snapshot()).toEqual(before);
    } finally {
      await h.a.exec(['tc', 'qdisc', 'del', 'dev', h.aIf, 'root'], { allowFail: true });
    }
  });

  it('clear finishes an exact tbf revert interrupted between its two steps (tbf left on noop)', async () => {
    await h.a.exec(['tc', 'qdisc', 'add', 'dev', h.aIf, 'root', 'handle', '1:', 'tbf', ...'rate 20mbit burst 40000 latency 40ms'.split(' ')]);
    const snapshot = async (): Promise<string[]> => Promise.all([
      tcJson(h, 'qdisc'), h.a.exec(['tc', '-raw', '-d', '-j', 'qdisc', 'show', 'dev', h.aIf, 'invisible']).then((r) => r.stdout),
    ]);
    const before = await snapshot();
    try {
      expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      // the first step of the revert only, as a crash right after it would leave things
      await h.a.exec(['tc', 'qdisc', 'del', 'dev', h.aIf, 'parent', '1:1', 'handle', 'bac0:']);
      expect((await h.a.exec(['ping', '-c', '1', '-W', '1', h.bIp], { allowFail: true })).exitCode).not.toBe(0); // noop
      expect((await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      expect(await snapshot()).toEqual(before);
      expect((await h.a.exec(['ping', '-c', '2', '-W', '2', '-i', '0.2', h.bIp], { allowFail: true })).exitCode).toBe(0);
    } finally {
      await h.a.exec(['tc', 'qdisc', 'del', 'dev', h.aIf, 'root'], { allowFail: true });
    }
  });

  it('a foreign tbf with a peakrate (not exactly readable from tc): the tbf stays identical, a visible bfifo bacf: carries traffic', async () => {
    await h.a.exec(['tc', 'qdisc', 'add', 'dev', h.aIf, 'root', 'handle', '1:', 'tbf', ...'rate 3mbit burst 10k latency 20ms peakrate 4123457bit mtu 1600'.split(' ')]);
    const raw = async (): Promise<unknown[]> => JSON.parse((await h.a.exec(['tc', '-raw', '-d', '-j', 'qdisc', 'show', 'dev', h.aIf])).stdout) as unknown[];
    const tbfBefore = (await raw())[0];
    try {
      expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      expect((await cli(['status', '--dev', h.aIf, '--netns', h.a.name], env)).stdout).toMatch(/on clear +inexact: clear leaves a visible bfifo bacf: \(limit 11908 bytes\) under tbf 1:, because tbf has a peakrate/);
      expect((await cli(['clear', '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
      const after = (await raw()) as { kind: string; handle: string; parent?: string; options: { limit?: number } }[];
      expect(after[0]).toEqual(tbfBefore);
      expect(after.slice(1).map((q) => `${q.kind} ${q.handle} ${q.parent} ${q.options.limit}`)).toEqual(['bfifo bacf: 1:1 11908']);
      expect((await h.a.exec(['ping', '-c', '2', '-W', '2', '-i', '0.2', h.bIp], { allowFail: true })).exitCode).toBe(0);
    } finally {
      await h.a.exec(['tc', 'qdisc', 'del', 'dev', h.aIf, 'root'], { allowFail: true });
    }
  });

  it('refuses a foreign htb root (exit 5) and leaves it alone', async () => {
    await h.a.exec(['tc', 'qdisc', 'add', 'dev', h.aIf, 'root', 'handle', '7:', 'htb']);
    try {
      const before = await tcJson(h, 'qdisc');
      const r = await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/root qdisc htb 7: that backhaul did not create/);
      expect(await tcJson(h, 'qdisc')).toBe(before);
    } finally {
      await h.a.exec(['tc', 'qdisc', 'del', 'dev', h.aIf, 'root'], { allowFail: true });
    }
  });

  it('a netem profile on a kernel without sch_netem fails with the actionable message (exit 3) and touches nothing', async () => {
    const before = [await tcJson(h, 'qdisc'), await ifbs(h)];
    const r = await cli(['apply', 'lte-good', '--dev', h.aIf, '--netns', h.a.name], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/sch_netem is not available/);
    expect(r.stderr).toMatch(/modprobe sch_netem/);
    expect(r.stderr).toMatch(/kernel-modules-extra/);
    expect(r.stderr).toMatch(/backhaul relay --listen ADDR:PORT --upstream HOST:PORT --profile NAME/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect([await tcJson(h, 'qdisc'), await ifbs(h)]).toEqual(before);
  });

  it.each([
    [['apply', 'rate-only', '--dev', 'eth0;reboot'], /invalid interface name "eth0;reboot"/],
    [['apply', 'rate-only', '--dev', 'abcdefghijklmnop'], /longer than 15 characters/],
    [['apply', 'no-such-profile', '--dev', 'a0'], /no profile named "no-such-profile"/],
    [['apply', 'rate-only', '--dev', 'a0', '--netns', '../etc'], /invalid network namespace name/],
    [['apply', 'rate-only', '--dev', 'a0', '--match', 'peer=10.0.0.1/8'], /host bits set/],
    [['apply', 'rate-only', '--dev', 'a0', '--direction', 'sideways'], /--direction must be/],
    [['clear', '--dev', 'a0/x'], /invalid interface name/],
  ])('hostile or wrong input is rejected clearly (exit 2): %j', async (args, msg) => {
    const before = await tcJson(h, 'qdisc');
    const r = await cli([...args, ...(args.includes('--netns') ? [] : ['--netns', h.a.name])], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(await tcJson(h, 'qdisc')).toBe(before);
  });

  it('status without --dev finds every interface of the namespace that carries our tree', async () => {
    expect((await cli(['apply', RATE_EGRESS, '--dev', h.aIf, '--netns', h.a.name], env)).code).toBe(0);
    const st = await cli(['status', '--netns', h.a.name, '--json'], env);
    const j = JSON.parse(st.stdout) as { kernel: string; iproute2: string; interfaces: { profileName?: string; target: { dev: string }; egress?: { rateKbit?: number } }[] };
    expect(j.kernel).toMatch(/^\d+\.\d+/);
    expect(j.iproute2).toMatch(/^\d+\.\d+|^ss/);
    expect(j.interfaces.map((i) => [i.target.dev, i.profileName, i.egress?.rateKbit])).toEqual([[h.aIf, 'rate-egress', 5000]]);
    const human = await cli(['status', '--netns', h.a.name], env);
    expect(human.stdout).toMatch(new RegExp(`^${h.aIf} \\(netns ${h.a.name}\\): profile rate-egress`, 'm'));
    expect(human.stdout).toMatch(/rate\s+5 Mbit\/s/);
  });

  it('an interface that vanished leaves an orphaned IFB: status names it, clear removes it', async () => {
    await h.a.exec(['ip', 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1']);
    await h.a.exec(['ip', 'link', 'set', 'x0', 'up']);
    expect((await cli(['apply', RATE_ONLY, '--dev', 'x0', '--netns', h.a.name], env)).code).toBe(0);
    const ifb = ifbNameFor('x0', h.a.name);
    await h.a.exec(['ip', 'link', 'del', 'x0']);
    const st = await cli(['status', '--netns', h.a.name], env);
    expect(st.stdout).toContain(`orphaned IFB ${ifb}: its interface x0 is gone`);
    const c = await cli(['clear', '--dev', 'x0', '--netns', h.a.name, '--json'], env);
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ interfaceGone: true });
    expect(await ifbs(h)).toBe('');
  });

  it('a missing namespace or interface is a clear error, not a crash', async () => {
    const r1 = await cli(['apply', RATE_EGRESS, '--dev', 'a0', '--netns', 'bh-no-such-ns'], env);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/no such network namespace/);
    const r2 = await cli(['apply', RATE_EGRESS, '--dev', 'nope0', '--netns', h.a.name], env);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/no such interface/);
  });

  it('--dry-run prints tc/ip commands only and changes nothing', async () => {
    const before = await tcJson(h, 'qdisc');
    const r = await cli(['apply', RATE_ONLY, '--dev', h.aIf, '--netns', h.a.name, '--dry-run'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.every((l) => l.startsWith(`tc -n ${h.a.name} `) || l.startsWith(`ip -n ${h.a.name} `))).toBe(true);
    expect(lines).toContain(`tc -n ${h.a.name} qdisc add dev ${h.aIf} root handle bac0: htb default 10 direct_qlen 1000`);
    expect(await tcJson(h, 'qdisc')).toBe(before);
  });
});

describe('netem backend on a gateway (client - router - server)', () => {
  let g: Gateway;
  beforeAll(async () => {
    g = await gateway();
  });
  afterAll(async () => {
    await g?.destroy();
  });

  it('impairment on the router\'s interface shapes forwarded traffic both ways', async () => {
    const r = await cli(['apply', RATE_ONLY, '--dev', g.routerServerIf, '--netns', g.router.name], env);
    expect(r.code).toBe(0);
    try {
      within(await iperfMbit(g.client, g.server, g.serverIp, 5201), 10); // leaves r1: egress
      within(await iperfMbit(g.client, g.server, g.serverIp, 5201, { reverse: true }), 6); // enters r1: ingress via IFB
    } finally {
      expect((await cli(['clear', '--dev', g.routerServerIf, '--netns', g.router.name], env)).code).toBe(0);
    }
    expect((await g.router.exec(['ip', '-o', 'link', 'show', 'type', 'ifb'])).stdout.trim()).toBe('');
  });
});
