/**
 * `backhaul fault` locally, as a real process (the esbuild bundle of the CLI), on two hosts in
 * network namespaces (the fault acts in host a, whose peer is b):
 *   - an unknown interface / namespace: exit 2 before anything is touched; not root: exit 3 with a hint
 *   - link-down for 1 s really downs the link and brings it back, start and restore printed with timestamps
 *   - SIGINT in the middle of a 60 s link-down: the link is up again at once, the process exits 0
 *   - blackhole: both directions dropped (the peer's packets never reach a's stack); SIGTERM restores
 *     (the table is gone); SIGKILL of the CLI: its revert guard deletes the table
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blackholeTable } from '../../../agent/faults/fault-plan.js';
import { twoHosts, type TwoHosts } from '../../support/netns.js';
import { agentBundle } from '../../agent/support/agent-process.js';

let net: TwoHosts;
let dir: string;
let bundle: string;
const children: ChildProcess[] = [];

interface Cli {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function cli(args: string[]): Cli {
  const proc = spawn(process.execPath, [bundle, 'fault', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BACKHAUL_STATE_DIR: join(dir, 'state'), SSH_CONNECTION: '' } });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += String(d)));
  proc.stderr?.on('data', (d: Buffer) => (err += String(d)));
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  return { proc, out: () => out, err: () => err, exited };
}

async function until(what: string, cond: () => Promise<boolean> | boolean, c: Cli, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms\nstdout: ${c.out()}\nstderr: ${c.err()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function linkUp(): Promise<boolean> {
  const [l] = JSON.parse((await net.a.exec(['ip', '-j', 'link', 'show', 'dev', net.aIf])).stdout) as { flags: string[] }[];
  return (l?.flags ?? []).includes('UP');
}

async function tables(): Promise<string> {
  return (await net.a.exec(['nft', 'list', 'tables'])).stdout;
}

async function pings(from: 'a' | 'b', count: number): Promise<number> {
  const [ns, to] = from === 'a' ? [net.a, net.bIp] : [net.b, net.aIp];
  const r = await ns.exec(['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', to], { allowFail: true });
  return Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
}

/** Echo requests and UDP datagrams that reached a's IP stack (/proc/net/snmp in a). */
async function receivedByA(): Promise<number> {
  const lines = (await net.a.exec(['cat', '/proc/net/snmp'])).stdout.split('\n');
  const row = (proto: string): Record<string, number> => {
    const [head, values] = lines.filter((l) => l.startsWith(`${proto}:`)).map((l) => l.split(/\s+/).slice(1));
    return Object.fromEntries((head ?? []).map((k, i) => [k, Number(values?.[i])]));
  };
  const icmp = row('Icmp');
  const udp = row('Udp');
  return (icmp['InEchos'] as number) + (udp['InDatagrams'] as number) + (udp['NoPorts'] as number) + (udp['InErrors'] as number);
}

async function udpFromB(count: number): Promise<void> {
  await net.b.exec(['bash', '-c', `for i in $(seq ${count}); do echo x > /dev/udp/${net.aIp}/9; done`]);
}

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}/;

beforeAll(async () => {
  bundle = await agentBundle();
  dir = mkdtempSync(join(tmpdir(), 'bh-fault-cli-'));
  net = await twoHosts();
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('backhaul fault, locally (real ip/nft, namespaces)', () => {
  it('an unknown interface or namespace exits 2 naming it; a non-root user exits 3 with a hint; nothing is touched', async () => {
    const noDev = cli(['link-down', '--dev', 'nosuch0', '--netns', net.a.name, '--for', '1s']);
    expect(await noDev.exited).toBe(2);
    expect(noDev.err()).toMatch(new RegExp(`no interface "nosuch0" in network namespace ${net.a.name}`));
    const noNs = cli(['blackhole', `${net.bIp}/32`, '--netns', 'bh-no-such-ns', '--for', '1s']);
    expect(await noNs.exited).toBe(2);
    expect(noNs.err()).toMatch(/no network namespace "bh-no-such-ns"/);
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bundle, 'fault', 'link-down', '--dev', net.aIf, '--netns', net.a.name, '--for', '1s'], { reject: false, timeout: 60_000, env: { HOME: dir, BACKHAUL_STATE_DIR: join(dir, 'nobody') } });
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/needs CAP_NET_ADMIN and CAP_SYS_ADMIN \(run as root\)/);
    expect(r.stderr).toMatch(/hint: run it with sudo/);
    expect(await linkUp()).toBe(true);
    expect(await tables()).not.toContain('backhaul_fault_');
  }, 90_000);

  it('not ours to fault: a link that is already down, a blackhole table already in place: exit 5, left as they were', async () => {
    await net.a.exec(['ip', 'link', 'set', 'dev', net.aIf, 'down']);
    try {
      const c = cli(['link-down', '--dev', net.aIf, '--netns', net.a.name, '--for', '1s']);
      expect(await c.exited).toBe(5);
      expect(c.err()).toMatch(new RegExp(`${net.aIf} is already down`));
      expect(await linkUp()).toBe(false);
    } finally {
      await net.a.exec(['ip', 'link', 'set', 'dev', net.aIf, 'up']);
    }
    const t = blackholeTable(`${net.bIp}/32`);
    await net.a.exec(['nft', 'add', 'table', 'inet', t]);
    try {
      const c = cli(['blackhole', `${net.bIp}/32`, '--netns', net.a.name, '--for', '1s']);
      expect(await c.exited).toBe(5);
      expect(c.err()).toMatch(/is already in place/);
      expect(c.err()).toMatch(new RegExp(`hint: if nothing holds it: ip netns exec ${net.a.name} nft delete table inet ${t}`));
      expect(await tables()).toContain(t);
    } finally {
      await net.a.exec(['nft', 'delete', 'table', 'inet', t]);
    }
  }, 60_000);

  it('link-down for 3 s: the link is down during it and up after; start and restore printed with timestamps', async () => {
    // 3 s: the test sees the down state by polling with `ip` processes, slow on a loaded host.
    const c = cli(['link-down', '--dev', net.aIf, '--netns', net.a.name, '--for', '3s']);
    await until('the link goes down', async () => !(await linkUp()), c);
    expect(await c.exited).toBe(0);
    expect(await linkUp()).toBe(true);
    const lines = c.out().trim().split('\n');
    expect(lines[0]).toMatch(TS);
    expect(lines[0]).toMatch(new RegExp(`started link-down of ${net.aIf} \\(netns ${net.a.name}\\) for 3s$`));
    expect(lines[1]).toMatch(TS);
    expect(lines[1]).toMatch(/restored$/);
    // Wall-clock stamps around a 3 s timer (monotonic, 1 ms granularity): a few ms of slack.
    expect(Date.parse(lines[1]!.slice(0, 24)) - Date.parse(lines[0]!.slice(0, 24))).toBeGreaterThanOrEqual(2995);
    expect(lines[2]).toMatch(/^link-down ended after \d/);
  }, 60_000);

  it('SIGINT in the middle of a 60 s link-down restores at once; --json says interrupted and restored', async () => {
    const c = cli(['link-down', '--dev', net.aIf, '--netns', net.a.name, '--for', '60s', '--json']);
    await until('the link goes down', async () => !(await linkUp()), c);
    const sent = Date.now();
    c.proc.kill('SIGINT');
    expect(await c.exited).toBe(0);
    // One `ip link set up` and the guard's acknowledgement: far below the fault's 60 s.
    expect(Date.now() - sent).toBeLessThan(30_000);
    expect(await linkUp()).toBe(true);
    const res = JSON.parse(c.out()) as { kind: string; startMs: number; endMs: number; restored: boolean; interrupted: boolean };
    expect(res).toMatchObject({ kind: 'link-down', restored: true, interrupted: true });
    expect(res.endMs - res.startMs).toBeLessThan(60_000);
  }, 90_000);

  it('blackhole: the host sends nothing to the peer and receives nothing from it; SIGTERM restores; SIGKILL leaves it to the guard', async () => {
    const peer = `${net.bIp}/32`;
    expect(await pings('a', 2)).toBeGreaterThan(0);
    const c = cli(['blackhole', peer, '--netns', net.a.name, '--for', '60s']);
    await until('the table appears', async () => (await tables()).includes(blackholeTable(peer)), c);
    await until('the start is printed', () => /started blackhole/.test(c.out()), c);
    expect(c.out()).toMatch(new RegExp(`started blackhole of ${peer.replace(/\./g, '\\.')} \\(netns ${net.a.name}\\) \\(nft table inet ${blackholeTable(peer)}, both directions\\)`));
    expect(await pings('a', 3)).toBe(0);
    const before = await receivedByA();
    expect(await pings('b', 3)).toBe(0);
    await udpFromB(5);
    expect(await receivedByA()).toBe(before);
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.out()).toMatch(/restored \(interrupted: restored at once\)/);
    expect(await tables()).not.toContain('backhaul_fault_');
    expect(await pings('b', 3)).toBeGreaterThan(0);
    await udpFromB(5);
    expect((await receivedByA()) - before).toBeGreaterThanOrEqual(6);

    const k = cli(['blackhole', peer, '--netns', net.a.name, '--for', '60s']);
    await until('the table appears', async () => (await tables()).includes(blackholeTable(peer)), k);
    k.proc.kill('SIGKILL');
    await k.exited;
    // The guard sees its pipe close and runs the restore (one nft process).
    await until('the guard deletes the table', async () => !(await tables()).includes('backhaul_fault_'), k, 10_000);
    expect(await pings('a', 3)).toBeGreaterThan(0);
  }, 120_000);
});
