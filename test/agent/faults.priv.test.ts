/**
 * Agent-side faults and hooks with the real agent process, real `ip` and real namespaces. The agent
 * runs in the root namespace on loopback and acts on a two-host pair through `netns`:
 *   - link-down for 1 s: the link reads back down during it and up after it
 *   - blackhole of the peer: pings fail for its duration and succeed after it
 *   - SIGKILL of the agent during a 30 s link-down: its revert guard brings the link up within 1 s,
 *     and a restarted agent finds an empty faults journal after running its recovery
 *   - the campaign's agent site driver: a fault and a declared hook through AgentSite
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/api/client.js';
import { AgentSite } from '../../campaign/sites/agent-site.js';
import { twoHosts, type TwoHosts } from '../support/netns.js';
import { agentBundle, agentPort, alive, startAgentProcess, type AgentProcess } from './support/agent-process.js';

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

async function start(stateDir: string): Promise<AgentProcess> {
  const config = join(dir, 'agent.yaml');
  writeFileSync(config, `hooks:\n  smoke:\n    run: [/bin/sh, -c, "echo smoke-$BACKHAUL_STEP; exit 0"]\n    timeout: 10s\n`);
  return startAgentProcess({ stateDir, port: agentPort(), extraArgs: ['--config', config] });
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
  it('link-down for 1 s: down during, up after', async () => {
    agent = await start(join(dir, 'state'));
    const client = new AgentClient(agent.url);
    expect(await linkUp()).toBe(true);
    const f = await client.createFault({ kind: 'link-down', dev: net.aIf, netns: net.a.name, durationMs: 1000 });
    expect(f.state).toBe('active');
    expect(await linkUp()).toBe(false);
    expect(await pings(2)).toBe(0);
    let v = f;
    const deadline = Date.now() + 10_000;
    while (v.state !== 'ended' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      v = await client.getFault(f.id);
    }
    expect(v.state).toBe('ended');
    expect(v.endedAtMs! - v.startedAtMs).toBeGreaterThanOrEqual(1000);
    expect(await linkUp()).toBe(true);
  }, 60_000);

  it('blackhole of the peer: pings fail during it, succeed after', async () => {
    const client = new AgentClient(agent!.url);
    expect(await pings(3)).toBeGreaterThan(0);
    const f = await client.createFault({ kind: 'blackhole', peer: `${net.bIp}/32`, netns: net.a.name, durationMs: 4000 });
    // 5 pings 0.2 s apart, all inside the 4 s window.
    expect(await pings(5)).toBe(0);
    const routes = (await net.a.exec(['ip', 'route', 'show', 'type', 'blackhole'])).stdout;
    expect(routes).toContain(net.bIp);
    await client.stopFault(f.id);
    expect((await net.a.exec(['ip', 'route', 'show', 'type', 'blackhole'])).stdout).not.toContain(net.bIp);
    expect(await pings(3)).toBeGreaterThan(0);
  }, 60_000);

  it('SIGKILL during a link-down: the guard brings the link up within 1 s; a restart leaves no journal entry', async () => {
    const client = new AgentClient(agent!.url);
    await client.createFault({ kind: 'link-down', dev: net.aIf, netns: net.a.name, durationMs: 30_000 });
    expect(await linkUp()).toBe(false);
    const journal = JSON.parse(readFileSync(join(dir, 'state', 'faults.json'), 'utf8')) as { entries: { restore: string[] }[] };
    expect(journal.entries.map((e) => e.restore.at(-1))).toEqual(['up']);
    const killedAt = Date.now();
    agent!.proc.kill('SIGKILL');
    await agent!.exited;
    let upAt = 0;
    while (Date.now() - killedAt < 5000) {
      if (await linkUp()) {
        upAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(upAt).toBeGreaterThan(0);
    expect(upAt - killedAt).toBeLessThan(1000);
    agent = await start(join(dir, 'state'));
    expect((JSON.parse(readFileSync(join(dir, 'state', 'faults.json'), 'utf8')) as { entries: unknown[] }).entries).toEqual([]);
    expect(await linkUp()).toBe(true);
  }, 60_000);

  it('the campaign agent site: pre-flight sees faults and hooks; a fault and a hook run through the agent', async () => {
    const site = new AgentSite({ name: 'a', url: agent!.url } as never, { pollMs: 50 });
    const pf = await site.preflight();
    expect(pf.faults).toEqual(['link-down', 'flap', 'blackhole']);
    expect(pf.hooks).toEqual(['smoke']);
    const p = site.fault({ kind: 'flap', name: 'flap-0', agent: 'a', atMs: 0, dev: net.aIf, agentNetns: net.a.name, downForMs: 300, upForMs: 300, count: 2 });
    await new Promise((r) => setTimeout(r, 100));
    expect(await linkUp()).toBe(false);
    const t = await p;
    expect(t.endMs - t.startMs).toBeGreaterThanOrEqual(900);
    expect(await linkUp()).toBe(true);
    const h = await site.runHook({ name: 'check', on: 'agent', agent: 'a', hook: 'smoke', atMs: 0, timeoutMs: 10_000 }, { campaign: 'c', step: 'peak', stepEndMs: Date.now() });
    expect(h.exitCode).toBe(0);
    expect(h.outputTail).toContain('smoke-peak');
  }, 60_000);
});
