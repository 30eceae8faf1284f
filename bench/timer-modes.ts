/**
 * Timer modes side by side, in-process (no network): for each interval and each mode, wait for
 * slots start + k*interval and report schedule error (returned - deadline) mean/p99 over the slots
 * kept, missed slots (more than half an interval late, irtt's rule; skipped, as the probe does) and
 * CPU time per wall second (process.cpuUsage: the whole process, user + system). `sleep` is the
 * baseline measured in the same run. Prints a markdown table.
 *
 *   npx esbuild bench/timer-modes.ts --bundle --platform=node --format=esm --outfile=.cache/tm.mjs \
 *     && node .cache/tm.mjs [intervalsMs=1,10] [seconds=5]
 */
import { loadavg } from 'node:os';
import { systemClock } from '../core/clock.js';
import { createWaiter, TIMER_MODES } from '../probe/timer.js';

const intervals = (process.argv[2] ?? '1,10').split(',').map(Number);
const seconds = Number(process.argv[3] ?? 5);

async function measure(mode: (typeof TIMER_MODES)[number], intervalMs: number): Promise<string> {
  const w = createWaiter(mode, systemClock);
  const interval = BigInt(Math.round(intervalMs * 1e6));
  const n = Math.round((seconds * 1000) / intervalMs);
  const errs: number[] = [];
  let missed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint() + 10_000_000n;
  let k = 0;
  while (k < n) {
    const deadline = t0 + BigInt(k) * interval;
    const t = await w.waitUntil(deadline);
    const late = t - deadline;
    if (late * 2n > interval) {
      const skip = Number(late / interval);
      missed += Math.max(1, skip);
      k += Math.max(1, skip);
      continue;
    }
    errs.push(Number(late) / 1e3);
    k++;
  }
  const cpu = process.cpuUsage(cpu0);
  errs.sort((a, b) => a - b);
  const mean = errs.reduce((s, x) => s + x, 0) / errs.length;
  const p99 = errs[Math.floor(errs.length * 0.99)] ?? NaN;
  const cpuPct = ((cpu.user + cpu.system) / 1e6 / seconds) * 100;
  const st = w.stats();
  const denied = (st as { spinBudgetDenied?: number }).spinBudgetDenied;
  return `| ${intervalMs} | ${mode} | ${n} | ${missed} (${((missed / n) * 100).toFixed(1)}%) | ${mean.toFixed(1)} | ${p99.toFixed(1)} | ${cpuPct.toFixed(1)} | ${(Number(st.spinNs) / 1e9 / seconds * 100).toFixed(1)} | ${denied ?? 'n/a'} |`;
}

console.log(`# timer modes: node ${process.version}, ${seconds} s per cell, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
console.log('| interval (ms) | mode | slots | missed | error mean (us) | error p99 (us) | CPU (% of a core) | spinning (% of wall) | spin budget denied |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const iv of intervals) for (const mode of TIMER_MODES) console.log(await measure(mode, iv));
console.log(`\nload at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
