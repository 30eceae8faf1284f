/**
 * Timer modes side by side, in-process (no network): for each mode, wait for slots start + k*interval
 * and report schedule error (returned - deadline) mean/p99, missed slots (more than half an interval
 * late, irtt's rule) and CPU time per wall second.
 *
 *   npx esbuild bench/timer-modes.ts --bundle --platform=node --format=esm --outfile=.cache/tm.mjs \
 *     && node .cache/tm.mjs [intervalMs=1] [seconds=5]
 */
import { systemClock } from '../core/clock.js';
import { createWaiter, TIMER_MODES } from '../probe/timer.js';

const intervalMs = Number(process.argv[2] ?? 1);
const seconds = Number(process.argv[3] ?? 5);

async function measure(mode: (typeof TIMER_MODES)[number]): Promise<string> {
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
  return `${mode.padEnd(7)} slots ${n}  missed ${missed} (${((missed / n) * 100).toFixed(2)}%)  error mean ${mean.toFixed(1)} us  p99 ${p99.toFixed(1)} us  cpu ${cpuPct.toFixed(1)}% of a core  margin ${Number(w.stats().marginNs) / 1e3} us`;
}

for (const mode of TIMER_MODES) console.log(await measure(mode));
