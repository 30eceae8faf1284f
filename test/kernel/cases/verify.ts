/**
 * `backhaul verify --dev IF --to REFLECTOR` with the netem backend on a real sch_netem (issue 7):
 * a reflector (`backhaul reflect`) in host b, verify run inside host a on a0 (the probe crosses
 * it), expecting exit 0 and a0 restored byte for byte; then verify on a dummy interface the probe
 * never crosses, expecting exit 1 (the impairment is not in effect) and the dummy restored.
 *
 * Both run as processes of the CLI bundle (BH_KERNEL_CLI, see agent.ts): the probe must send from
 * inside namespace a and the reflector listen inside b, and node cannot enter a namespace. The
 * only tolerances are the ones verify derives itself (campaign/conformance.ts).
 *
 * An apply under TCG takes 3-10 s; the step's window opens once every apply settled
 * (run-step.ts), so a 5 s window is 5 s of probes however slow the apply was.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { CaseContext, KernelCase } from '../harness.js';
import { run, type Netns } from '../../support/netns.js';
import { diffLines, snapshot } from '../tc-state.js';
import { topology } from '../topology.js';
import { cliBin } from './agent.js';

const PROFILE = join(process.cwd(), 'test', 'kernel', 'fixtures', 'verify-delay-loss.yaml');
const PORT = 18862;

/** `backhaul reflect` in `ns`, resolved once it reports that it listens; stopped in cleanup. */
async function startReflect(t: CaseContext, ns: Netns, listen: string): Promise<void> {
  const argv = ns.argv([process.execPath, cliBin(), 'reflect', '--listen', listen, '--rate', '0']);
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  t.defer(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reflector did not start in 120 s: ${err}`)), 120_000);
    proc.stderr?.on('data', (d: Buffer) => {
      err += String(d);
      if (err.includes('reflecting on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`reflector exited (${c}) before listening: ${err}`));
    });
  });
}

interface VerifyRun {
  exitCode: number;
  json: { ok?: boolean; error?: string; conformance?: { result?: { checks?: { quantity: string; status: string; measured: unknown; expected: unknown }[] } }; reverts?: { ok: boolean }[] } | null;
  stderr: string;
}

/** `backhaul verify PROFILE --dev DEV --to TO --json` inside `ns`. */
async function verify(ns: Netns, dev: string, to: string): Promise<VerifyRun> {
  const argv = ns.argv([process.execPath, cliBin(), 'verify', PROFILE, '--dev', dev, '--to', to, '--duration', '5s', '--interval', '20ms', '--baseline', '2s', '--json']);
  const r = await run(argv, { allowFail: true, timeoutMs: 150_000 });
  let json: VerifyRun['json'] = null;
  try {
    json = JSON.parse(r.stdout) as VerifyRun['json'];
  } catch {
    /* reported below with the raw output */
  }
  return { exitCode: r.exitCode, json, stderr: `${r.stdout}\n${r.stderr}`.slice(-2000) };
}

function describe(v: VerifyRun): string {
  const checks = v.json?.conformance?.result?.checks ?? [];
  if (checks.length === 0) return `exit ${v.exitCode}; no conformance checks: ${v.json ? JSON.stringify(v.json).slice(0, 3000) : v.stderr}`;
  return `exit ${v.exitCode}; ${checks.map((c) => `${c.quantity} ${c.status} (expected ${JSON.stringify(c.expected)}, measured ${JSON.stringify(c.measured)})`).join('; ')}`;
}

export const verifyCases: KernelCase[] = [
  {
    name: 'verify --dev: a delay+loss profile on the crossed veth is conformant (exit 0), one on an uncrossed dummy is not (exit 1); both restored byte-identically',
    timeoutMs: 300_000,
    run: async (t) => {
      const h = await topology(t);
      await h.a.exec(['ip', 'link', 'add', 'd0', 'type', 'dummy']);
      await h.a.exec(['ip', 'link', 'set', 'd0', 'up']);
      const beforeA = await snapshot(h.a, h.aIf);
      const beforeD = await snapshot(h.a, 'd0');
      await startReflect(t, h.b, `${h.bIp}:${PORT}`);
      const to = `${h.bIp}:${PORT}`;

      const good = await verify(h.a, h.aIf, to);
      t.log(`verify on ${h.aIf}: ${describe(good)}`);
      t.check(good.exitCode === 0, `verify of a crossed interface: ${describe(good)}`);
      t.check((good.json?.conformance?.result?.checks?.length ?? 0) > 0, `verify compared nothing: ${describe(good)}`);
      t.check(good.json?.reverts?.every((r) => r.ok) === true, `verify did not report a clean revert: ${JSON.stringify(good.json?.reverts)}`);
      const afterA = await snapshot(h.a, h.aIf);
      t.check(afterA === beforeA, `${h.aIf} not restored:\n${diffLines(beforeA, afterA)}`);

      const bad = await verify(h.a, 'd0', to);
      t.log(`verify on d0: ${describe(bad)}`);
      t.check(bad.exitCode === 1, `verify of an interface the probe never crosses should be a deviation (exit 1): ${describe(bad)}`);
      const delay = bad.json?.conformance?.result?.checks?.find((c) => c.quantity === 'delay');
      t.check(delay?.status === 'not-in-effect', `delay check on d0: ${JSON.stringify(delay)}`);
      const afterD = await snapshot(h.a, 'd0');
      t.check(afterD === beforeD, `d0 not restored:\n${diffLines(beforeD, afterD)}`);
    },
  },
];
