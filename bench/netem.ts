/**
 * tc backend benchmarks, each next to a baseline measured in the same run (root; namespaces):
 *   1. apply latency: our plan as ONE `tc -batch` (runner.execute) vs the same commands as one tc
 *      process each (what a naive wrapper does); median and p90 over N applies (+ clear each time).
 *   2. phase switch latency: applyPhase (read state + plan + one batch) vs the batch alone.
 *   3. shaping accuracy: TCP goodput (iperf3) through our htb class vs a hand-made tbf root at the
 *      same rate and bucket (2 ms of bytes), as a fraction of the configured rate.
 *
 *   npx esbuild bench/netem.ts --bundle --platform=node --format=esm --packages=external --outfile=.cache/netem-bench.mjs
 *   node .cache/netem-bench.mjs [applies=20]
 */
import { execa } from 'execa';
import type { Profile } from '../core/profile.js';
import { NetemBackend } from '../agent/netem/netem-backend.js';
import { planApply, planRevert, stepArgv } from '../agent/netem/plan.js';
import { TcRunner } from '../agent/netem/runner.js';

const N = Number(process.argv[2] ?? 20);
const NS_A = `bhbench${process.pid}a`;
const NS_B = `bhbench${process.pid}b`;

async function sh(argv: string[], allowFail = false): Promise<string> {
  const r = await execa(argv[0] as string, argv.slice(1), { reject: !allowFail });
  return String(r.stdout);
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
  return `median ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms (n=${s.length})`;
}

async function iperf(rateLabel: string, reverse = false): Promise<number> {
  const srv = execa('ip', ['netns', 'exec', NS_B, 'iperf3', '-s', '-1', '-p', '5299'], { reject: false });
  try {
    for (let i = 0; i < 50; i++) {
      const r = await execa('ip', ['netns', 'exec', NS_A, 'iperf3', '-c', '10.66.0.2', '-p', '5299', '-t', '4', '-O', '1', '-J', ...(reverse ? ['-R'] : [])], { reject: false });
      const j = (() => {
        try {
          return JSON.parse(String(r.stdout)) as { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
        } catch {
          return {};
        }
      })();
      const bps = j.end?.sum_received?.bits_per_second;
      if (r.exitCode === 0 && typeof bps === 'number') return bps / 1e6;
      if (j.error && !/refused|unable to connect/i.test(j.error)) throw new Error(`iperf3 (${rateLabel}): ${j.error}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`iperf3 failed (${rateLabel})`);
  } finally {
    srv.kill('SIGKILL');
    await srv;
  }
}

async function main(): Promise<void> {
  await sh(['ip', 'netns', 'add', NS_A]);
  await sh(['ip', 'netns', 'add', NS_B]);
  try {
    await sh(['ip', 'link', 'add', 'bhbencha', 'type', 'veth', 'peer', 'name', 'bhbenchb']);
    await sh(['ip', 'link', 'set', 'bhbencha', 'netns', NS_A]);
    await sh(['ip', 'link', 'set', 'bhbenchb', 'netns', NS_B]);
    await sh(['ip', '-n', NS_A, 'addr', 'add', '10.66.0.1/24', 'dev', 'bhbencha']);
    await sh(['ip', '-n', NS_B, 'addr', 'add', '10.66.0.2/24', 'dev', 'bhbenchb']);
    await sh(['ip', '-n', NS_A, 'link', 'set', 'bhbencha', 'up']);
    await sh(['ip', '-n', NS_B, 'link', 'set', 'bhbenchb', 'up']);

    const runner = new TcRunner();
    const target = { kind: 'netem' as const, dev: 'bhbencha', netns: NS_A, direction: 'both' as const,
      match: [{ peer: '10.66.0.0/24' }, { peer: 'fd66::/64', port: 443 }], exclude: [{ peer: '10.66.0.9/32', port: 22, proto: 'tcp' as const }] };
    const profile: Profile = { name: 'bench', description: 'rate only', egress: { rateKbit: 20000 }, ingress: { rateKbit: 50000 } };

    // 1. apply latency
    const batch: number[] = [];
    const single: number[] = [];
    let commands = 0;
    for (let i = 0; i < N; i++) {
      const plan = planApply(target, profile, await runner.readLiveState(target), { seedSupported: false });
      commands = plan.steps.length;
      let t = performance.now();
      await runner.execute(plan);
      batch.push(performance.now() - t);
      await runner.execute(planRevert(target, await runner.readLiveState(target)));
      const plan2 = planApply(target, profile, await runner.readLiveState(target), { seedSupported: false });
      t = performance.now();
      for (const s of plan2.steps) await runner.run(stepArgv(s, plan2.netns));
      single.push(performance.now() - t);
      await runner.execute(planRevert(target, await runner.readLiveState(target)));
    }
    console.log(`1. apply of a ${commands}-command plan (egress + IFB ingress, 3 rules):`);
    console.log(`   one tc -batch (ours):        ${stats(batch)}`);
    console.log(`   one process per command:     ${stats(single)}`);

    // 2. phase switch latency
    const sched: Profile = { ...profile, schedule: { loop: true, phases: [{ durationMs: 1000, egress: { rateKbit: 5000 } }, { durationMs: 1000 }] } };
    const backend = new NetemBackend({ runner, stateDir: `/tmp/bh-bench-${process.pid}` });
    await backend.apply({ ...target, direction: 'egress' }, sched);
    const full: number[] = [];
    const batchOnly: number[] = [];
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      const plan = await backend.applyPhase({ ...target, direction: 'egress' }, sched, i % 2, undefined);
      full.push(performance.now() - t);
      t = performance.now();
      await runner.execute(plan);
      batchOnly.push(performance.now() - t);
    }
    console.log('2. phase switch (class rate + leaf):');
    console.log(`   applyPhase (read + plan + batch): ${stats(full)}`);
    console.log(`   the batch alone:                  ${stats(batchOnly)}`);
    await backend.revert(target);

    // 3. shaping accuracy vs a tbf baseline
    console.log('3. TCP goodput / configured rate (iperf3 4 s, first second omitted):');
    for (const mbit of [5, 20, 100]) {
      await backend.apply({ ...target, direction: 'egress', match: [], exclude: [] }, { name: 'r', description: 'r', egress: { rateKbit: mbit * 1000 } });
      const ours = await iperf(`${mbit} htb`);
      await backend.revert(target);
      // same bucket as our htb class: 2 ms of bytes, at least two full frames
      const burst = Math.max(3028, Math.ceil((mbit * 1e6 / 8) * 0.002));
      await sh(['tc', '-n', NS_A, 'qdisc', 'add', 'dev', 'bhbencha', 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', `${burst}b`, 'latency', '50ms']);
      const tbf = await iperf(`${mbit} tbf`);
      await sh(['tc', '-n', NS_A, 'qdisc', 'del', 'dev', 'bhbencha', 'root']);
      console.log(`   ${String(mbit).padStart(3)} Mbit/s: ours (htb) ${(ours / mbit).toFixed(3)}   tbf baseline ${(tbf / mbit).toFixed(3)}`);
    }
  } finally {
    await sh(['ip', 'netns', 'del', NS_A], true);
    await sh(['ip', 'netns', 'del', NS_B], true);
  }
}

await main();
