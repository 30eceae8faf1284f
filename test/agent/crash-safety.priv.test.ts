/**
 * Revert on every kind of death, with the real agent process, real tc and a real namespace:
 *   - SIGKILL of the agent alone: the guard reverts within 1 s
 *   - SIGKILL of the agent's whole process group: the guard (own session) still reverts
 *   - the guard killed first: the agent restarts it; then the agent killed: the new guard reverts;
 *     or both killed at once: the restarted agent reverts from its journal
 *   - SIGKILL in the middle of a revert (DELETE or graceful shutdown), then a restart: the restarted
 *     agent waits for the old guard and finishes from the journal
 * In every case the interface ends byte-identical (`tc -j qdisc/class/filter show`, the invisible
 * qdiscs, ingress hook, links) to before, 20 trials each, cycling through a bare interface, one with
 * a foreign ingress qdisc + filter (which our ingress redirect shares and must leave as it was), a
 * foreign tbf root (our htb grafts under it; revert restores it exactly, its invisible default child
 * included), and both. Profiles are rate-only (this kernel has no netem): htb + IFB for ingress.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../agent/api/client.js';
import { readJournal } from '../../agent/journal.js';
import { isGuardProcess, waitForGuardExit } from '../../agent/guard/guard-client.js';
import { Netns, run } from '../support/netns.js';
import { agentBundle, agentPort, alive, guardDoneAtMs, startAgentProcess, tcSnapshot, type AgentProcess } from './support/agent-process.js';
import { testProfiles } from './test-profiles.js';

const TRIALS = 20;
let ns: Netns;
let dir: string;
let profilesDir: string;

beforeAll(async () => {
  await agentBundle();
  dir = mkdtempSync(join(tmpdir(), 'bh-crash-'));
  profilesDir = join(dir, 'profiles');
  testProfiles(profilesDir);
  ns = await Netns.create('btk');
  await ns.exec(['ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
  await ns.exec(['ip', 'addr', 'add', '10.79.0.1/24', 'dev', 'v0']);
  await ns.exec(['ip', 'addr', 'add', '10.79.0.2/24', 'dev', 'v1']);
  await ns.exec(['ip', 'link', 'set', 'v0', 'up']);
  await ns.exec(['ip', 'link', 'set', 'v1', 'up']);
}, 120_000);

afterAll(async () => {
  await ns?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Give trial i its starting state: a foreign ingress qdisc with a filter when i is odd, a foreign
 * tbf root when bit 1 of i is set (so i = 0..3: bare, ingress, tbf, both).
 */
async function prepareRoot(i: number): Promise<void> {
  await ns.exec(['tc', 'qdisc', 'del', 'dev', 'v0', 'root'], { allowFail: true });
  await ns.exec(['tc', 'qdisc', 'del', 'dev', 'v0', 'ingress'], { allowFail: true });
  if (Math.floor(i / 2) % 2 === 1) {
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'v0', 'root', 'handle', '1:', 'tbf', 'rate', '100mbit', 'burst', '64kb', 'latency', '25ms']);
  }
  if (i % 2 === 1) {
    await ns.exec(['tc', 'qdisc', 'add', 'dev', 'v0', 'handle', 'ffff:', 'ingress']);
    await ns.exec(['tc', 'filter', 'add', 'dev', 'v0', 'parent', 'ffff:', 'protocol', 'ip', 'prio', '7', 'u32', 'match', 'ip', 'src', '192.0.2.0/24', 'action', 'mirred', 'egress', 'mirror', 'dev', 'v1']);
  }
}

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await cond()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

async function start(stateDir: string, extra: { detached?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<AgentProcess> {
  return startAgentProcess({ stateDir, port: await agentPort(), extraArgs: ['--profiles', profilesDir], ...extra });
}

async function impair(agent: AgentProcess, profile = 'rate-2m'): Promise<AgentClient> {
  const client = new AgentClient(agent.url);
  await client.createImpairment({ target: { dev: 'v0', netns: ns.name }, profile, ttl: '10m' });
  return client;
}

const snap = (): Promise<string> => tcSnapshot(ns.name, 'v0');

/**
 * What tcSnapshot reads, with the six reads run at once (a few ms instead of six process runs in
 * a row), for classifying the state at a kill without moving the kill much later.
 */
async function quickSnap(): Promise<string> {
  const tc = async (args: string[]): Promise<string> => (await run(['tc', '-n', ns.name, '-j', ...args], { allowFail: true })).stdout.trim();
  const [qdisc, invisible, cls, filter, ingress, links] = await Promise.all([
    tc(['qdisc', 'show', 'dev', 'v0']), tc(['qdisc', 'show', 'dev', 'v0', 'invisible']), tc(['class', 'show', 'dev', 'v0']),
    tc(['filter', 'show', 'dev', 'v0']), tc(['filter', 'show', 'dev', 'v0', 'ingress']),
    run(['ip', '-n', ns.name, '-j', 'link', 'show']).then((r) => (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).sort()),
  ]);
  return JSON.stringify({ qdisc, invisible, cls, filter, ingress, links });
}

/** Wait until the interface is back to `before`; on timeout, fail showing both and the guard log. */
async function backTo(before: string, stateDir: string, label: string, timeoutMs = 10_000): Promise<void> {
  try {
    await until(async () => (await snap()) === before, timeoutMs);
  } catch {
    let log = '';
    try {
      log = readFileSync(join(stateDir, 'guard.log'), 'utf8').split('\n').slice(-12).join('\n');
    } catch {
      /* no log */
    }
    throw new Error(`${label}: not reverted\nbefore: ${before}\nnow:    ${await snap()}\nguard log:\n${log}`);
  }
}

/** After a trial: the old guard is gone and the journal is empty once an agent started again. */
async function settle(agent: AgentProcess): Promise<void> {
  await agent.exited;
  await waitForGuardExit(agent.guardPid, 10_000);
}

describe('crash safety (privileged, real agent process)', () => {
  it(`SIGKILL of the agent alone: the guard reverts within 1 s, byte-identical (${TRIALS} trials)`, async () => {
    const stateDir = join(dir, 'kill-alone');
    const elapsed: number[] = [];
    for (let i = 0; i < TRIALS; i++) {
      await prepareRoot(i);
      const before = await snap();
      const agent = await start(stateDir);
      await impair(agent);
      expect(await snap(), `trial ${i}: impairment visible`).not.toBe(before);
      const killedAtMs = Date.now();
      process.kill(agent.pid, 'SIGKILL');
      await backTo(before, stateDir, `trial ${i}`);
      await settle(agent);
      expect(await snap(), `trial ${i}`).toBe(before);
      elapsed.push(guardDoneAtMs(join(stateDir, 'guard.log'), agent.guardPid) - killedAtMs);
    }
    // From the SIGKILL to the guard's last revert step finished (its log line, same clock).
    expect(Math.max(...elapsed)).toBeLessThan(1000);
    // A restarted agent finds the entries the killed ones left and reverts them (idempotently).
    const agent = await start(stateDir);
    expect((await readJournal(join(stateDir, 'journal.json'))).entries).toEqual([]);
    process.kill(agent.pid, 'SIGTERM');
    expect((await agent.exited).code).toBe(0);
    console.log(`SIGKILL alone: guard finished reverting ${elapsed.map((e) => Math.round(e)).join(', ')} ms after the kill`);
  });

  it(`SIGKILL during an apply (write-ahead revert plan): byte-identical within 1 s, no restart (${TRIALS} trials)`, async () => {
    // The test hook holds HOLD_MS after the guard acknowledged the write-ahead plan (before tc) and
    // again after tc ran (before the exact plan is sent). Killing at 0..(2*HOLD_MS + apply) ms after
    // the request hits: before tc, during the tc batch, and the old bug's window (applied, guard
    // holding 0 steps). Without write-ahead the later kills leave the interface impaired.
    const HOLD_MS = 300;
    const stateDir = join(dir, 'kill-during-apply');
    const delays: number[] = [];
    const elapsed: number[] = [];
    let impairedAtKill = 0;
    for (let i = 0; i < TRIALS; i++) {
      await prepareRoot(i);
      const before = await snap();
      const agent = await start(stateDir, { env: { BACKHAUL_TEST_APPLY_HOLD_MS: String(HOLD_MS) } });
      const delayMs = Math.round(((i * 7919) % TRIALS) / TRIALS * (2 * HOLD_MS + 100));
      delays.push(delayMs);
      const client = new AgentClient(agent.url);
      void client.createImpairment({ target: { dev: 'v0', netns: ns.name }, profile: 'rate-2m', ttl: '10m' }).catch(() => undefined);
      if (i % 2 === 0) await new Promise((r) => setTimeout(r, delayMs));
      else {
        // Kill as soon as the impairment is visible: tc ran, and the hold keeps the agent from
        // sending the exact plan for HOLD_MS (the window where the old guard held 0 steps).
        await until(async () => (await snap()) !== before, 15_000);
        delays[delays.length - 1] = -1;
      }
      if ((await snap()) !== before) impairedAtKill += 1;
      const killedAtMs = Date.now();
      process.kill(agent.pid, 'SIGKILL');
      await backTo(before, stateDir, `trial ${i} (kill ${delayMs} ms after the request)`);
      await settle(agent);
      expect(await snap(), `trial ${i}`).toBe(before);
      // The bound is on the guard's own "done" (its last revert step finished; same clock), as in
      // the SIGKILL-alone test: polling the snapshot (six tc/ip runs a poll) under load is not it.
      // Nothing but the guard reverts here (no restart), so the interface was back by then.
      const ms = guardDoneAtMs(join(stateDir, 'guard.log'), agent.guardPid) - killedAtMs;
      elapsed.push(ms);
      expect(ms, `trial ${i}: the guard finished reverting within 1 s of the kill`).toBeLessThan(1000);
    }
    // The trials did hit the applied state (the window the write-ahead plan closes), not only "before tc".
    expect(impairedAtKill).toBeGreaterThanOrEqual(TRIALS / 2);
    console.log(`SIGKILL during apply: kill delays ${delays.join(', ')} ms (-1: as soon as visible); impaired when killed in ${impairedAtKill}/${TRIALS}; guard done ${elapsed.map((e) => Math.round(e)).join(', ')} ms after the kill`);
  });

  it(`SIGKILL of the agent's whole process group: byte-identical (${TRIALS} trials)`, async () => {
    const stateDir = join(dir, 'kill-group');
    for (let i = 0; i < TRIALS; i++) {
      await prepareRoot(i);
      const before = await snap();
      const agent = await start(stateDir, { detached: true });
      await impair(agent);
      process.kill(-agent.pid, 'SIGKILL');
      await backTo(before, stateDir, `trial ${i}`);
      await settle(agent);
      expect(await snap(), `trial ${i}`).toBe(before);
    }
  });

  it(`the guard killed first, then the agent: byte-identical (${TRIALS} trials)`, async () => {
    const stateDir = join(dir, 'kill-guard');
    for (let i = 0; i < TRIALS; i++) {
      await prepareRoot(i);
      const before = await snap();
      const agent = await start(stateDir);
      const client = await impair(agent);
      process.kill(agent.guardPid, 'SIGKILL');
      if (i % 2 === 0) {
        // The agent notices and restarts its guard with the current plan; then the agent dies.
        const fresh = await until(async () => {
          const h = await client.health();
          return h.guard.alive && h.guard.pid !== agent.guardPid && h.guard.restarts === 1;
        }, 15_000).then(async () => (await client.health()).guard.pid as number);
        expect(await isGuardProcess(fresh)).toBe(true);
        // Let the restarted guard acknowledge its plan (the agent re-sends it right after the restart).
        await new Promise((r) => setTimeout(r, 100));
        process.kill(agent.pid, 'SIGKILL');
        await backTo(before, stateDir, `trial ${i}`);
        await agent.exited;
        await waitForGuardExit(fresh, 10_000);
      } else {
        // Both gone before the agent could restart the guard (or its replacement could hold the
        // plan): the journal is what is left. (Rarely the replacement already holds the plan and
        // reverts: either way the interface must end as it was.)
        process.kill(agent.pid, 'SIGKILL');
        await agent.exited;
        const again = await start(stateDir);
        expect(await snap(), `trial ${i}: the restarted agent reverted from the journal`).toBe(before);
        process.kill(again.pid, 'SIGTERM');
        expect((await again.exited).code).toBe(0);
      }
      expect(await snap(), `trial ${i}`).toBe(before);
    }
  });

  it(`SIGKILL in the middle of a revert, then a restart: byte-identical (${TRIALS} trials)`, async () => {
    const stateDir = join(dir, 'kill-mid-revert');
    const atKillState = { impaired: 0, partial: 0, before: 0 };
    for (let i = 0; i < TRIALS; i++) {
      await prepareRoot(i);
      const before = await snap();
      const quickBefore = await quickSnap();
      const agent = await start(stateDir);
      const client = await impair(agent);
      const impaired = await quickSnap();
      const [id] = (await client.listImpairments()).map((v) => v.id);
      // Start a revert (a DELETE, or a graceful shutdown) and kill the agent a few ms into it.
      if (i % 2 === 0) void client.deleteImpairment(id as string).catch(() => undefined);
      else process.kill(agent.pid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, (i * 7) % 45));
      // The state right before the kill: partly reverted = neither as before nor fully impaired.
      const atKill = await quickSnap();
      if (atKill === quickBefore) atKillState.before += 1;
      else if (atKill === impaired) atKillState.impaired += 1;
      else atKillState.partial += 1;
      if (alive(agent.pid)) process.kill(agent.pid, 'SIGKILL');
      await agent.exited;
      const again = await start(stateDir);
      expect(await snap(), `trial ${i}`).toBe(before);
      expect((await readJournal(join(stateDir, 'journal.json'))).entries).toEqual([]);
      process.kill(again.pid, 'SIGTERM');
      expect((await again.exited).code).toBe(0);
      await waitForGuardExit(agent.guardPid, 10_000);
      expect(await snap(), `trial ${i}`).toBe(before);
    }
    expect(readFileSync(join(stateDir, 'guard.log'), 'utf8')).toMatch(/agent (gone|finished cleanly)/);
    // How many kills hit the revert midway (read just before the kill). Logged, not asserted: a
    // partly reverted state lasts only while the revert's commands run (a tc batch, then `ip link
    // del` of the IFB), which the fixed kill delays hit in a few trials only (1 to 3 of 20 when measured).
    console.log(`SIGKILL mid-revert: at the kill the interface was fully impaired in ${atKillState.impaired}, partly reverted in ${atKillState.partial}, already reverted in ${atKillState.before} of ${TRIALS} trials`);
  });

  it('a cgroup-style kill (agent and guard together), then `agent revert-journal` (ExecStopPost) reverts; it refuses while the agent runs', async () => {
    const stateDir = join(dir, 'exec-stop-post');
    await prepareRoot(1);
    const before = await snap();
    const agent = await start(stateDir);
    await impair(agent);
    const cli = await agentBundle();
    const refused = await run([process.execPath, cli, 'agent', 'revert-journal', '--state-dir', stateDir], { allowFail: true });
    expect(refused.exitCode).toBe(5);
    expect(refused.stderr).toMatch(/is running/);
    expect(await snap()).not.toBe(before);
    process.kill(agent.guardPid, 'SIGKILL');
    process.kill(agent.pid, 'SIGKILL');
    await agent.exited;
    await waitForGuardExit(agent.guardPid, 10_000);
    expect(await snap()).not.toBe(before);
    const r = await run([process.execPath, cli, 'agent', 'revert-journal', '--state-dir', stateDir, '--json']);
    expect(JSON.parse(r.stdout).reverted).toHaveLength(1);
    expect(await snap()).toBe(before);
    expect((await readJournal(join(stateDir, 'journal.json'))).entries).toEqual([]);
  });

  it('SIGKILL after an apply with disableOffloads: the guard gives the offloads back too', async () => {
    const stateDir = join(dir, 'kill-offloads');
    await prepareRoot(0);
    const features = async (): Promise<string> =>
      (await ns.exec(['ethtool', '-k', 'v0'])).stdout.split('\n')
        .filter((l) => /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload):/.test(l)).join('\n');
    // A state that differs from what --disable-offloads sets (all off), with GRO turned on here.
    await ns.exec(['ethtool', '-K', 'v0', 'gso', 'on', 'gro', 'on']);
    const before = await snap();
    const featuresBefore = await features();
    expect(featuresBefore).toMatch(/generic-segmentation-offload: on/);
    const agent = await start(stateDir);
    await new AgentClient(agent.url).createImpairment({ target: { dev: 'v0', netns: ns.name }, profile: 'rate-2m', ttl: '10m', disableOffloads: true });
    expect(await features()).not.toBe(featuresBefore);
    process.kill(agent.pid, 'SIGKILL');
    await backTo(before, stateDir, 'offloads');
    await settle(agent);
    expect(await features()).toBe(featuresBefore);
  });
});
