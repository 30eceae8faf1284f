/**
 * The agent with a real sch_netem (guest kernel): a netem profile applied through the API and
 * reverted by the guard after SIGKILL; a schedule switching netem phases (including a 100%-loss
 * phase on the interface that carries the API) while ping runs, with the controller still able to
 * renew and clear. No timing assertions beyond mechanism lower bounds (a reply cannot come back
 * faster than the configured delay).
 *
 * The agent runs as its own process, so it can be killed: the CLI bundle run-tier.ts builds
 * (BH_KERNEL_CLI), else dist/ (`npm run build`). The guest sees the repository read-only at the
 * same path. One agent serves the whole case (a node start costs tens of seconds under TCG).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseContext, KernelCase } from '../harness.js';
import { rtts } from '../measure.js';
import { run, type Netns } from '../../support/netns.js';
import { diffLines, field, netems, snapshot } from '../tc-state.js';
import { ping } from '../traffic.js';
import { topology } from '../topology.js';

const TOKEN = 'kernel-tier-token-0123456789';

/** The CLI entry the guest runs: the bundle run-tier.ts builds, else bin/backhaul.js over dist/. */
export function cliBin(): string {
  const bundled = process.env['BH_KERNEL_CLI'];
  if (bundled && existsSync(bundled)) return bundled;
  const dist = join(process.cwd(), 'dist', 'cli', 'main.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` before the kernel tier`);
  return join(process.cwd(), 'bin', 'backhaul.js');
}

interface Started {
  proc: ChildProcess;
  pid: number;
  url: string;
  guardPid: number;
}

/** Start `backhaul agent` (optionally inside a namespace) and wait for its JSON start line. */
async function startAgent(t: CaseContext, args: string[], netns?: Netns): Promise<Started> {
  const argv = [process.execPath, cliBin(), 'agent', '--json', ...args];
  const full = netns ? netns.argv(argv) : argv;
  const proc = spawn(full[0] as string, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BACKHAUL_TOKEN: TOKEN } });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += String(d)));
  proc.stderr?.on('data', (d: Buffer) => (err += String(d)));
  t.defer(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  });
  const info = await new Promise<{ listening: string; pid: number; guardPid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start in 120 s: ${err}`)), 120_000);
    proc.stdout?.on('data', () => {
      const end = out.indexOf('}\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, end + 1)) as { listening: string; pid: number; guardPid: number });
      }
    });
    proc.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (${c}) before listening: ${err}`));
    });
  });
  return { proc, pid: info.pid, url: info.listening, guardPid: info.guardPid };
}

async function until(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export const agentCases: KernelCase[] = [
  {
    name: 'agent: a schedule with a 100%-loss phase runs while ping runs, the controller renews and clears; then a netem profile and SIGKILL -> the guard reverts byte-identically',
    timeoutMs: 240_000,
    run: async (t) => {
      const h = await topology(t);
      const before = await snapshot(h.a, h.aIf);
      const port = 18471;
      const agent = await startAgent(t, ['--listen', `${h.aIp}:${port}`, '--state-dir', '/tmp/bh-kernel-agent'], h.a);
      // Host b has a second address: the controller talks from .2, "other traffic" comes from .3.
      await h.b.exec(['ip', 'addr', 'add', '10.77.0.3/24', 'dev', h.bIf]);
      const curl = async (method: string, path: string, body?: unknown, from?: string) => {
        const r = await run(h.b.argv(['curl', '-sS', '-m', '60', '-X', method, '-H', `authorization: Bearer ${TOKEN}`,
          ...(from ? ['--interface', from] : []),
          ...(body ? ['-H', 'content-type: application/json', '--data', JSON.stringify(body)] : []),
          `http://${h.aIp}:${port}${path}`]), { allowFail: true, timeoutMs: 90_000 });
        return { ok: r.exitCode === 0 && !/"code":"ERR_/.test(r.stdout), body: r.stdout, err: r.stderr };
      };

      // 1. A schedule: calm (10 ms) / cut (100% loss), on the interface that carries the API.
      const created = await curl('POST', '/v1/impairments', {
        target: { dev: h.aIf }, ttl: '5m',
        profile: {
          name: 'k-cut', description: 'calm 10 ms / total cut',
          egress: { delay: '10ms' },
          schedule: { loop: true, phases: [{ name: 'calm', duration: '3s' }, { name: 'cut', duration: '3s', egress: { loss: '100%' } }] },
        },
      });
      t.check(created.ok, `create: ${created.body} ${created.err}`);
      const id = (JSON.parse(created.body) as { id: string }).id;
      const pinging = ping(h.b, h.aIp, { count: 100, intervalS: 0.1 }).catch(() => null);
      // Renew during the run, from the controller and from another address of host b (API port rule).
      let renewsOk = 0;
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 2000));
        const r = await curl('POST', `/v1/impairments/${id}/renew`, { ttl: '5m' }, i % 2 ? '10.77.0.3' : undefined);
        if (r.ok) renewsOk += 1;
        else t.log(`renew ${i} failed: ${r.body} ${r.err}`);
      }
      // The controller (.2) is excluded; from .3 the cut phases drop everything.
      const other = await run(h.b.argv(['ping', '-n', '-c', '60', '-i', '0.1', '-W', '2', '-I', '10.77.0.3', h.aIp]), { allowFail: true, timeoutMs: 120_000 });
      const sample = await pinging;
      t.check(renewsOk === 4, `renewed ${renewsOk}/4 times through the schedule`);
      const view = await curl('GET', `/v1/impairments/${id}`);
      const v = JSON.parse(view.body) as { phaseSwitches: { name: string }[] };
      const names = v.phaseSwitches.map((s) => s.name);
      t.log(`phase switches: ${names.join(' ')}`);
      t.check(names.includes('cut') && names.includes('calm') && names.length >= 3, `phases switched: ${names.join(' ')}`);
      const received = Number(/(\d+) received/.exec(other.stdout)?.[1] ?? '-1');
      t.log(`pings from a non-management address: ${received}/60 answered`);
      t.check(received >= 0 && received < 60, `the cut phases drop other traffic (${received}/60 answered)`);
      if (sample) {
        const xs = rtts(sample);
        t.log(`controller pings: ${xs.length}/100 answered`);
        t.check(xs.length > 0, 'the controller reaches the agent throughout');
      }
      const del = await curl('DELETE', `/v1/impairments/${id}`);
      t.check(del.ok, `clear: ${del.body} ${del.err}`);
      const cleared = await snapshot(h.a, h.aIf);
      t.check(cleared === before, `not reverted by clear:\n${diffLines(before, cleared)}`);

      // 2. A netem profile (delay, jitter, loss; both directions), then SIGKILL: the guard reverts.
      const second = await curl('POST', '/v1/impairments', {
        target: { dev: h.aIf }, ttl: '10m',
        profile: { name: 'k-netem', description: 'netem through the agent', egress: { delay: '20ms', jitter: '2ms', loss: '1%' }, ingress: { delay: '5ms' } },
      });
      t.check(second.ok, `create netem: ${second.body} ${second.err}`);
      const [leaf] = await netems(h.a, h.aIf);
      t.check(Math.abs(Number(field(leaf, 'delay.delay')) - 0.02) < 1e-6, `netem leaf delay: ${JSON.stringify(leaf)}`);
      process.kill(agent.pid, 'SIGKILL');
      const reverted = await until(async () => (await snapshot(h.a, h.aIf)) === before, 60_000);
      t.check(reverted, `not reverted after SIGKILL:\n${diffLines(before, await snapshot(h.a, h.aIf))}`);
    },
  },
];
