/**
 * `backhaul demo --netns` for real: two namespaces, netem on the store's veth (egress + ingress via
 * IFB), a blackhole in the store for the failover. Verdicts from measurement (p50 ordered fibre <
 * LTE < satellite, the injected outage matched), the assertions (absolute RTT upper bounds only
 * logged: they measure the emulated host), /metrics' RTT histogram while it runs, and both
 * namespaces gone afterwards.
 *
 * NOT in the default CASES (it takes ~2-3 minutes under TCG: four steps, a netem apply/revert per
 * step, a probe process per step): run it with `KERNEL_CASES='demo' npm run test:kernel`. The
 * step length is `KERNEL_DEMO_STEP` (default 15s: the probe process and the apply take seconds
 * here, and the failover's 2.5 s blackhole must fall inside the probed part of its step).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelCase } from '../harness.js';
import { run } from '../../support/netns.js';

function bin(): string {
  const bundled = process.env['BH_KERNEL_CLI'];
  if (bundled && existsSync(bundled)) return bundled;
  const dist = join(process.cwd(), 'dist', 'cli', 'main.js');
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` before the kernel tier`);
  return join(process.cwd(), 'bin', 'backhaul.js');
}

interface DemoJson {
  exitCode: number;
  demoChecks: { name: string; passed: boolean; detail: string }[];
  steps: { name: string; error?: string; assertions: { text?: string; passed: boolean; message?: string }[]; probes: { summary?: { sent: number; rttMs: { p50: number } } }[] }[];
}

export const demoCases: KernelCase[] = [
  {
    name: 'demo --netns: fibre < LTE < satellite by p50 and the outage matched, through netem between namespaces; namespaces removed',
    timeoutMs: 420_000,
    run: async (t) => {
      const step = process.env['KERNEL_DEMO_STEP'] ?? '15s';
      const out = '/tmp/bh-kernel-demo';
      const argv = [process.execPath, bin(), 'demo', '--netns', '--step', step, '--json', '--out', out];
      const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      t.defer(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += String(d)));
      // /metrics while it runs: scraped once the first step is over (its probe has reported).
      let scrape: Promise<string> | null = null;
      proc.stderr.on('data', (d: Buffer) => {
        stderr += String(d);
        const url = /metrics: (http:\/\/\S+)/.exec(stderr)?.[1];
        if (!scrape && url && /step 2\/4/.test(stderr)) scrape = fetch(url).then((r) => r.text(), (e: Error) => `scrape failed: ${e.message}`);
      });
      const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
      const metrics = (await (scrape as Promise<string> | null)) ?? 'never scraped';
      const count = /^backhaul_probe_rtt_seconds_count\{target="10\.77\.0\.2:862",probe="store-to-dc"\} (\d+)/m.exec(metrics);
      t.log(`/metrics after step 1: backhaul_probe_rtt_seconds_count ${count?.[1] ?? 'absent'}`);
      t.check(Number(count?.[1] ?? 0) > 0, `no RTT histogram samples on /metrics: ${metrics.slice(0, 600)}`);
      t.check(/^backhaul_probe_sent_total\{target="10\.77\.0\.2:862",probe="store-to-dc"\} [1-9]/m.test(metrics), 'no backhaul_probe_sent_total on /metrics');
      const names = /namespaces: (\S+) .* -> (\S+) /.exec(stderr);
      t.check(names !== null, `no namespaces line on stderr: ${stderr.slice(-1500)}`);
      let res: DemoJson | null = null;
      try {
        res = JSON.parse(stdout) as DemoJson;
      } catch {
        t.check(false, `stdout is not the JSON result (exit ${code}): ${stdout.slice(-500)} / stderr: ${stderr.slice(-1500)}`);
      }
      if (res) {
        for (const s of res.steps) t.log(`${s.name}: p50 ${s.probes[0]?.summary?.rttMs.p50.toFixed(1) ?? '-'} ms, sent ${s.probes[0]?.summary?.sent ?? 0}${s.error ? `, error ${s.error}` : ''}`);
        for (const c of res.demoChecks) {
          t.log(`${c.passed ? 'PASS' : 'FAIL'} ${c.name}: ${c.detail}`);
          t.check(c.passed, `${c.name}: ${c.detail}`);
        }
        const fo = res.steps.find((s) => s.name === 'failover') as (DemoJson['steps'][number] & { faults?: unknown; probes: { failover?: unknown }[] }) | undefined;
        t.log(`failover: faults ${JSON.stringify(fo?.faults ?? null).slice(0, 400)}; analysis ${JSON.stringify(fo?.probes[0]?.failover ?? null).slice(0, 1200)}`);
        // Absolute upper bounds on RTT (fibre p50 < 20 ms, satellite p99 < 1 s) measure the host as
        // much as the profile: under TCG the guest adds ms to every round trip and stalls of a
        // second happen (measured: fibre p50 20.8 ms, satellite p99 1.54 s at load ~6). Those are
        // logged; every other assertion (lower bounds, loss, outages, failover, in-effect,
        // conformance against the baseline measured in the same run) must hold.
        const hostBound = (a: { text?: string }): boolean => /^rtt\.p(50|99) < /.test(a.text ?? '');
        const failed = res.steps.flatMap((s) => s.assertions.filter((a) => !a.passed).map((a) => ({ step: s.name, a })));
        for (const f of failed.filter((x) => hostBound(x.a))) t.log(`host-speed bound not met under emulation: ${f.step}: ${(f.a as { message?: string }).message ?? ''}`);
        const real = failed.filter((x) => !hostBound(x.a)).map((x) => `${x.step}: ${JSON.stringify(x.a).slice(0, 300)}`);
        t.check(real.length === 0, `failed assertions: ${real.join('; ')}`);
        t.check(code === (failed.length === 0 ? 0 : 1), `exit ${code} for ${failed.length} failed assertion(s): ${stderr.slice(-1500)}`);
      } else {
        t.check(false, `exit ${code}: ${stderr.slice(-1500)}`);
      }
      // Always removed: no bh-demo namespace is left, and in particular not this run's.
      const left = (await run(['ip', 'netns', 'list'])).stdout;
      t.check(!/bh-demo-/.test(left), `namespaces left behind: ${left}`);
      if (names) t.log(`namespaces ${names[1]}, ${names[2]}: removed`);
    },
  },
];
