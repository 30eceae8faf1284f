/**
 * Agent-side faults and hooks with the real agent process, real `ip` and real namespaces. The agent
 * runs in the root namespace on loopback and acts on a two-host pair through `netns`:
 *   - link-down for 1 s: the link reads back down during it and up after it
 *   - blackhole of the peer (an nft table in the host's namespace): the host's pings to the peer
 *     fail, AND the peer's pings and UDP datagrams to the host never reach it (the host's own ICMP
 *     and UDP receive counters, /proc/net/snmp in its namespace, do not move); after the stop the
 *     table is gone and both directions work again
 *   - SIGKILL of the agent during a 30 s link-down: its revert guard brings the link up within 1 s,
 *     and a restarted agent finds an empty faults journal after running its recovery
 *   - SIGKILL during a blackhole: the guard deletes the table, and the restarted agent's journal
 *     recovery deletes it once more without failing; SIGTERM during one: the agent's shutdown
 *     deletes it; either way a restarted agent's journal is empty
 *   - the campaign's agent site driver: a fault and a declared hook through AgentSite
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/api/client.js';
import { blackholeTable } from '../../agent/faults/fault-plan.js';
import { AgentSite } from '../../campaign/sites/agent-site.js';
import { twoHosts, type Netns, type TwoHosts } from '../support/netns.js';
import { agentBundle, agentPort, alive, guardDoneAtMs, startAgentProcess, type AgentProcess } from './support/agent-process.js';

let net: TwoHosts;
let dir: string;
let agent: AgentProcess | null = null;

async function linkUp(): Promise<boolean> {
  const [l] = JSON.parse((await net.a.exec(['ip', '-j', 'link', 'show', 'dev', net.aIf])).stdout) as { flags: string[] }[];
  return (l?.flags ?? []).includes('UP');
}

async function pings(count: number): Promise<number> {
  const r = await net.a.exec(['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', net.bIp], { allowFail: true });
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** Echo requests and UDP datagrams that reached `ns`'s IP stack (its own /proc/net/snmp). */
async function received(ns: Netns): Promise<{ echos: number; udp: number }> {
  const lines = (await ns.exec(['cat', '/proc/net/snmp'])).stdout.split('\n');
  const row = (proto: string): Record<string, number> => {
    const [head, values] = lines.filter((l) => l.startsWith(`${proto}:`)).map((l) => l.split(/\s+/).slice(1));
    return Object.fromEntries((head ?? []).map((k, i) => [k, Number(values?.[i])]));
  };
  const icmp = row('Icmp');
  const udp = row('Udp');
  return { echos: icmp['InEchos'] as number, udp: (udp['InDatagrams'] as number) + (udp['NoPorts'] as number) + (udp['InErrors'] as number) };
}

/** `count` pings from b to a; how many were answered. */
async function pingsFromPeer(count: number): Promise<number> {
  const r = await net.b.exec(['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', net.aIp], { allowFail: true });
  const m = /(\d+) received/.exec(r.stdout);
  return m ? Number(m[1]) : 0;
}

/** `count` UDP datagrams from b to a (port 9, nobody listens: they count as NoPorts when they arrive). */
async function udpFromPeer(count: number): Promise<void> {
  await net.b.exec(['bash', '-c', `for i in $(seq ${count}); do echo x > /dev/udp/${net.aIp}/9; done`]);
}

async function tables(): Promise<string> {
  return (await net.a.exec(['nft', 'list', 'tables'])).stdout;
}

async function start(stateDir: string): Promise<AgentProcess> {
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, `hooks:\n  smoke:\n    run: [/bin/sh, -c, "echo smoke-$BACKHAUL_STEP; exit 0"]\n    timeout: 10s\n`);
  return startAgentProcess({ stateDir, port: await agentPort(), extraArgs: ['--config', config] });
}

beforeAll(async () => {
  await agentBundle();
  dir = mkdtempSync(join(tmpdir(), 'bh-faults-'));
  net = await twoHosts();
}, 120_000);

afterAll(async () => {
  if (agent && alive(agent.pid)) {
    agent.proc.kill('SIGTERM');
    await agent.exited;
  }
  await net?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent faults (real ip, namespaces)', () => {
  it('link-down for 3 s: down during, up after', async () => {
    agent = await start(join(dir, 'state'));
    const client = new AgentClient(agent.url);
    expect(await linkUp()).toBe(true);
    // 3 s: the read-back and the pings (three process starts, slow on a loaded host) must all
    // fall inside the fault.
    const f = await client.createFault({ kind: 'link-down', dev: net.aIf, netns: net.a.name, durationMs: 3000 });
    expect(f.state).toBe('active');
    expect(await linkUp()).toBe(false);
    expect(await pings(2)).toBe(0);
    let v = f;
    const deadline = Date.now() + 20_000;
    while (v.state !== 'ended' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      v = await client.getFault(f.id);
    }
    expect(v.state).toBe('ended');
    // Wall-clock ms stamps around a monotonic timer: up to 1 ms short by rounding alone.
    expect(v.endedAtMs! - v.startedAtMs).toBeGreaterThanOrEqual(2999);
    expect(await linkUp()).toBe(true);
  }, 60_000);

  it('blackhole of the peer: both directions dropped (the peer\'s packets never reach the host), the table gone after stop', async () => {
    const client = new AgentClient(agent!.url);
    const peer = `${net.bIp}/32`;
    expect(await pings(3)).toBeGreaterThan(0);
    const f = await client.createFault({ kind: 'blackhole', peer, netns: net.a.name, durationMs: 30_000 });
    expect(await tables()).toContain(`table inet ${blackholeTable(peer)}`);
    // host -> peer
    expect(await pings(5)).toBe(0);
    // peer -> host: nothing reaches the host's stack (a route blackhole would let these in).
    const before = await received(net.a);
    expect(await pingsFromPeer(5)).toBe(0);
    await udpFromPeer(5);
    const during = await received(net.a);
    expect(during.echos - before.echos).toBe(0);
    expect(during.udp - before.udp).toBe(0);
    await client.stopFault(f.id);
    expect(await tables()).not.toContain('backhaul_fault_');
    expect(await pings(3)).toBeGreaterThan(0);
    expect(await pingsFromPeer(3)).toBeGreaterThan(0);
    await udpFromPeer(5);
    const after = await received(net.a);
    expect(after.echos - during.echos).toBeGreaterThan(0);
    expect(after.udp - during.udp).toBeGreaterThanOrEqual(5);
  }, 60_000);

  it('SIGKILL during a link-down: the guard brings the link up within 1 s; a restart leaves no journal entry', async () => {
    const client = new AgentClient(agent!.url);
    await client.createFault({ kind: 'link-down', dev: net.aIf, netns: net.a.name, durationMs: 30_000 });
    expect(await linkUp()).toBe(false);
    const journal = JSON.parse(readFileSync(join(dir, 'state', 'faults.json'), 'utf8')) as { entries: { restore: string[] }[] };
    expect(journal.entries.map((e) => e.restore.at(-1))).toEqual(['up']);
    const guardPid = agent!.guardPid;
    const killedAt = Date.now();
    agent!.proc.kill('SIGKILL');
    await agent!.exited;
    let up = false;
    for (const end = Date.now() + 15_000; !up && Date.now() < end;) {
      up = await linkUp();
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    expect(up).toBe(true);
    // Timed by the guard's own "done" (its last restore step finished), as in crash-safety: a test
    // polling the link with `ip` processes is late by a process start on a loaded host.
    expect(guardDoneAtMs(join(dir, 'state', 'guard.log'), guardPid) - killedAt).toBeLessThan(1000);
    agent = await start(join(dir, 'state'));
    expect((JSON.parse(readFileSync(join(dir, 'state', 'faults.json'), 'utf8')) as { entries: unknown[] }).entries).toEqual([]);
    expect(await linkUp()).toBe(true);
  }, 60_000);

  it('SIGKILL during a blackhole: the guard deletes the table; SIGTERM during one: the shutdown deletes it', async () => {
    const peer = `${net.bIp}/32`;
    for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
      const client = new AgentClient(agent!.url);
      await client.createFault({ kind: 'blackhole', peer, netns: net.a.name, durationMs: 30_000 });
      expect(await tables()).toContain(blackholeTable(peer));
      expect(await pings(2)).toBe(0);
      agent!.proc.kill(signal);
      await agent!.exited;
      // The guard acts when it sees the agent's pipe close; its nft process takes a moment.
      const deadline = Date.now() + 10_000;
      while ((await tables()).includes('backhaul_fault_') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await tables(), signal).not.toContain('backhaul_fault_');
      expect(await pings(3), signal).toBeGreaterThan(0);
      agent = await start(join(dir, 'state'));
      // After a SIGKILL the journal still listed the fault: the restarted agent ran its restore
      // again, and deleting the table the guard had already deleted succeeds (idempotent restore).
      if (signal === 'SIGKILL') expect(agent.stderr()).toMatch(new RegExp(`restored fault \\S+: ip netns exec ${net.a.name} nft add table inet ${blackholeTable(peer)} ; delete table inet ${blackholeTable(peer)} -> 0`));
      else expect(agent.stderr()).not.toMatch(/restored fault/);
      expect((JSON.parse(readFileSync(join(dir, 'state', 'faults.json'), 'utf8')) as { entries: unknown[] }).entries, signal).toEqual([]);
    }
  }, 90_000);

  it('the campaign agent site: pre-flight sees faults and hooks; a fault and a hook run through the agent', async () => {
    const site = new AgentSite({ name: 'a', url: agent!.url } as never, { pollMs: 50 });
    const pf = await site.preflight();
    expect(pf.faults).toEqual(['link-down', 'flap', 'blackhole']);
    expect(pf.hooks).toEqual(['smoke']);
    // Down 1.5 s, up 0.5 s, down 1.5 s: the link is seen down by polling (not read once at a fixed
    // 100 ms, which the agent's `ip` run may not have reached on a loaded host).
    const p = site.fault({ kind: 'flap', name: 'flap-0', agent: 'a', atMs: 0, dev: net.aIf, agentNetns: net.a.name, downForMs: 1500, upForMs: 500, count: 2 });
    let down = false;
    for (const end = Date.now() + 3500; !down && Date.now() < end;) down = !(await linkUp());
    expect(down).toBe(true);
    const t = await p;
    expect(t.endMs - t.startMs).toBeGreaterThanOrEqual(3500);
    expect(await linkUp()).toBe(true);
    const h = await site.runHook({ name: 'check', on: 'agent', agent: 'a', hook: 'smoke', atMs: 0, timeoutMs: 10_000 }, { campaign: 'c', step: 'peak', stepEndMs: Date.now() });
    expect(h.exitCode).toBe(0);
    expect(h.outputTail).toContain('smoke-peak');
  }, 60_000);
});
