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
import { binomialBounds, rtts } from '../measure.js';
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

interface PhaseSwitchView {
  name: string;
  plannedAtMs: number;
  actualAtMs: number;
}

interface ImpairmentView {
  phaseSwitches: PhaseSwitchView[];
}

interface PhaseWindow {
  name: string;
  /** The switch into the phase had completed (tc returned) by then: wall ms. */
  fromMs: number;
  /** The phase lasted at least until then: the next switch was not started before its planned time (ScheduleRunner sleeps until it); Infinity while open. */
  untilMs: number;
}

/** The phases of a switch log as windows in which each was certainly in effect. */
export function phaseWindows(log: readonly PhaseSwitchView[]): PhaseWindow[] {
  return log.map((s, i) => ({ name: s.name, fromMs: s.actualAtMs, untilMs: log[i + 1]?.plannedAtMs ?? Infinity }));
}

/** Milliseconds of [fromMs, toMs] spent in `name` phases (closed windows only). */
export function overlapMs(ws: readonly PhaseWindow[], name: string, fromMs: number, toMs: number): number {
  return ws.filter((w) => w.name === name && Number.isFinite(w.untilMs))
    .reduce((sum, w) => sum + Math.max(0, Math.min(toMs, w.untilMs) - Math.max(fromMs, w.fromMs)), 0);
}

/** The random loss (0..1) of the netem on `dev`, or null without one: the leaf the schedule switches. */
async function leafLoss(ns: Netns, dev: string): Promise<number | null> {
  const q = (JSON.parse((await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', dev])).stdout) as { kind: string; options?: { 'loss-random'?: { loss?: number } } }[]).find((x) => x.kind === 'netem');
  return q ? (q.options?.['loss-random']?.loss ?? 0) : null;
}

/**
 * Run `attempt` inside a `cut` phase of a calm/cut loop, with `maxS` (curl's -m) shorter than what
 * is certainly left of the phase. When: the leaf itself (tc, polled in the agent's namespace) shows
 * the cut (100 % loss) at t0, after showing calm, so the cut is in effect from t0; it stays until at
 * least its planned end, computed from the first switch's planned time (the loop is deterministic,
 * and ScheduleRunner never applies a switch before its planned time, only after: 0.3-4.5 s under
 * load here, hence 8 s cut phases; the log's actualAtMs is no bound). The attempt counts only if it ended (t1) before
 * that end: one that spilled out (slow process start) is retried on the next cut, 3 at most.
 * Resolves to the attempt inside, or null.
 */
async function insideCut<R>(t: CaseContext, leaf: () => Promise<number | null>, read: () => Promise<ImpairmentView>, p: { calmMs: number; cutMs: number }, attempt: (maxS: number) => Promise<R>): Promise<{ result: R; maxS: number } | null> {
  const periodMs = p.calmMs + p.cutMs;
  const marginMs = 800; // process start of `ip netns exec curl` under emulation
  // The runner records the first switch (into calm, at once) after its tc change returned.
  let log = (await read()).phaseSwitches;
  for (const until = Date.now() + 30_000; log.length === 0 && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 300));
    log = (await read()).phaseSwitches;
  }
  const first = log[0];
  if (!first) throw new Error('the schedule did not switch into any phase within 30 s');
  const cutEndAfter = (ms: number): number => first.plannedAtMs + Math.floor((ms - first.plannedAtMs) / periodMs) * periodMs + periodMs;
  // A poll is a tc process: 250 ms apart, so polling does not starve the agent's own switches.
  const isCut = async (): Promise<boolean> => {
    await new Promise((r) => setTimeout(r, 250));
    return ((await leaf()) ?? 0) >= 0.999;
  };
  for (let i = 0; i < 3; i++) {
    const limit = Date.now() + 2 * periodMs + 30_000;
    while (await isCut()) if (Date.now() > limit) throw new Error('the leaf never left the cut');
    while (!(await isCut())) if (Date.now() > limit) throw new Error('the leaf never showed the cut (100 % loss)');
    const t0 = Date.now();
    const cutEnd = cutEndAfter(t0);
    const maxS = (cutEnd - t0 - marginMs) / 1000;
    if (maxS < 1) {
      t.log(`attempt ${i + 1}: the cut showed on the leaf only ${cutEnd - t0} ms before its planned end, waiting for the next`);
      continue;
    }
    const result = await attempt(maxS);
    const t1 = Date.now();
    const inCut = t1 <= cutEnd;
    t.log(`attempt ${i + 1}: cut on the leaf at ${t0 - cutEnd + p.cutMs} ms into its planned ${p.cutMs} ms, attempt until ${t1 - cutEnd + p.cutMs} ms, -m ${maxS.toFixed(1)}: ${inCut ? 'inside the cut' : 'not wholly inside the cut, retrying'}`);
    if (inCut) return { result, maxS };
  }
  return null;
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
      // No neighbour entry for .3 on host a (nothing from .3 has reached it yet; flushed to be sure):
      // the renew from .3 inside a cut phase needs ARP to get its SYN-ACK out, which the exemptions
      // let through (a `protocol arp` filter and ICMPv6 neighbour discovery to the unimpaired queue).
      await h.a.exec(['ip', 'neigh', 'flush', 'dev', h.aIf]);
      /** One API call from host b (from .2 unless `from`); `maxS`: curl's whole-operation limit. */
      const curl = async (method: string, path: string, body?: unknown, o: { from?: string; maxS?: number } = {}) => {
        const r = await run(h.b.argv(['curl', '-sS', '-m', (o.maxS ?? 60).toFixed(1), '-X', method, '-H', `authorization: Bearer ${TOKEN}`,
          ...(o.from ? ['--interface', o.from] : []),
          ...(body ? ['-H', 'content-type: application/json', '--data', JSON.stringify(body)] : []),
          `http://${h.aIp}:${port}${path}`]), { allowFail: true, timeoutMs: 90_000 });
        return { ok: r.exitCode === 0 && !/"code":"ERR_/.test(r.stdout), exitCode: r.exitCode, body: r.stdout, err: r.stderr };
      };
      const view = async (id: string): Promise<ImpairmentView> => JSON.parse((await curl('GET', `/v1/impairments/${id}`)).body) as ImpairmentView;
      const cutProfile = (name: string, calmMs: number, cutMs: number) => ({
        name, description: 'calm 10 ms / total cut', egress: { delay: '10ms' },
        schedule: { loop: true, phases: [{ name: 'calm', duration: `${calmMs}ms` }, { name: 'cut', duration: `${cutMs}ms`, egress: { loss: '100%' } }] },
      });

      // 1. A schedule: calm (10 ms) / cut (100% loss), on the interface that carries the API.
      const CALM_MS = 3000;
      const CUT_MS = 8000;
      const created = await curl('POST', '/v1/impairments', { target: { dev: h.aIf }, ttl: '5m', profile: cutProfile('k-cut', CALM_MS, CUT_MS) });
      t.check(created.ok, `create: ${created.body} ${created.err}`);
      const id = (JSON.parse(created.body) as { id: string }).id;
      // The controller (.2) pings throughout (10 s: at least 7 s of cut phases).
      const pingFrom = Date.now();
      const pinging = ping(h.b, h.aIp, { count: 100, intervalS: 0.1 }).then((s) => ({ s, endMs: Date.now() }), () => null);
      // A renew from .3 (only the API port rule exempts it) timed INSIDE a cut phase, with curl's
      // limit shorter than what is left of the phase: TCP cannot carry it over into a calm phase.
      const cutLeaf = (): Promise<number | null> => leafLoss(h.a, h.aIf);
      const timed = await insideCut(t, cutLeaf, () => view(id), { calmMs: CALM_MS, cutMs: CUT_MS },
        (maxS) => curl('POST', `/v1/impairments/${id}/renew`, { ttl: '5m' }, { from: '10.77.0.3', maxS }));
      t.check(timed !== null, 'no renew could be timed inside a cut phase in 3 tries (see the log)');
      if (timed) t.check(timed.result.ok, `a renew inside the cut phase failed (curl ${timed.result.exitCode}, -m ${timed.maxS.toFixed(1)}): ${timed.result.body} ${timed.result.err}`);
      // From .3 to a port that is not the API's (ICMP), the cut phases drop everything.
      const other = await run(h.b.argv(['ping', '-n', '-c', '60', '-i', '0.1', '-W', '2', '-I', '10.77.0.3', h.aIp]), { allowFail: true, timeoutMs: 120_000 });
      const sample = await pinging;
      const v = await view(id);
      const names = v.phaseSwitches.map((x) => x.name);
      t.log(`phase switches: ${names.join(' ')}`);
      t.check(names.includes('cut') && names.includes('calm') && names.length >= 3, `phases switched: ${names.join(' ')}`);
      const received = Number(/(\d+) received/.exec(other.stdout)?.[1] ?? '-1');
      t.log(`pings from a non-management address: ${received}/60 answered`);
      t.check(received >= 0 && received < 60, `the cut phases drop other traffic (${received}/60 answered)`);
      // The controller's pings: the unimpaired path loses < 1 % (the traffic baseline's health
      // bar), so at most a binomial z = 4.5 bound above that; a controller that is not exempt
      // loses every echo sent in a cut phase (>= 3 s of the 10 s).
      t.check(sample !== null, 'the controller ping did not run');
      if (sample) {
        const answered = rtts(sample.s).length;
        const n = sample.s.transmitted;
        // z = 4.5 kept (with the skew term: 8 of 100): the path really loses ~nothing, and a
        // wider bound would let a non-exempt controller with a short cut overlap pass.
        const maxLost = Math.floor(binomialBounds(n, 0.01, 4.5).hi * n);
        const cutOverlapMs = overlapMs(phaseWindows(v.phaseSwitches), 'cut', pingFrom, sample.endMs);
        t.log(`controller pings: ${answered}/${n} answered (at most ${maxLost} may be lost), ${(cutOverlapMs / 1000).toFixed(1)} s of them in cut phases`);
        t.check(cutOverlapMs >= 1000, `the controller's pings overlapped cut phases for only ${cutOverlapMs} ms: the check says nothing`);
        t.check(n - answered <= maxLost, `the controller lost ${n - answered}/${n} echoes (bound ${maxLost}): not exempt from the cut`);
      }
      const del = await curl('DELETE', `/v1/impairments/${id}`);
      t.check(del.ok, `clear: ${del.body} ${del.err}`);
      const cleared = await snapshot(h.a, h.aIf);
      t.check(cleared === before, `not reverted by clear:\n${diffLines(before, cleared)}`);

      // 1b. The control: with allowManagementInterface the same cut drops the API and the
      // controller too (the exemption above is what kept them up, not a weak cut).
      const ctl = await curl('POST', '/v1/impairments', { target: { dev: h.aIf }, ttl: '5m', allowManagementInterface: true, profile: cutProfile('k-cut-all', 2000, 8000) });
      t.check(ctl.ok, `create (allowManagementInterface): ${ctl.body} ${ctl.err}`);
      if (ctl.ok) {
        const cid = (JSON.parse(ctl.body) as { id: string }).id;
        const blocked = await insideCut(t, cutLeaf, () => view(cid), { calmMs: 2000, cutMs: 8000 }, async (maxS) => {
          const [renew, echo] = await Promise.all([
            curl('POST', `/v1/impairments/${cid}/renew`, { ttl: '5m' }, { from: '10.77.0.3', maxS }),
            run(h.b.argv(['ping', '-n', '-c', '5', '-i', '0.2', '-W', '1', h.aIp]), { allowFail: true, timeoutMs: 30_000 }),
          ]);
          return { ...renew, answered: Number(/(\d+) received/.exec(echo.stdout)?.[1] ?? '-1') };
        });
        t.check(blocked !== null, 'control: no attempt could be timed inside a cut phase in 3 tries');
        if (blocked) {
          t.log(`control (no exemption), inside the cut: renew curl exit ${blocked.result.exitCode}, controller pings ${blocked.result.answered}/5 answered`);
          t.check(!blocked.result.ok && blocked.result.exitCode === 28, `control: a renew inside the cut got through without the exemption (curl ${blocked.result.exitCode}): the cut does not cut`);
          t.check(blocked.result.answered === 0, `control: ${blocked.result.answered}/5 controller pings answered inside the cut without the exemption`);
        }
        const cdel = await curl('DELETE', `/v1/impairments/${cid}`);
        t.check(cdel.ok, `clear (control): ${cdel.body} ${cdel.err}`);
        const after = await snapshot(h.a, h.aIf);
        t.check(after === before, `not reverted by clear (control):\n${diffLines(before, after)}`);
      }

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
