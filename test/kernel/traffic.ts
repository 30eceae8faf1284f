/**
 * Traffic in the guest: ping between two namespaces with per-sequence replies (measure.ts does the
 * arithmetic), and the unimpaired baseline measured once per boot on the shared topology.
 *
 * Delay bands come from the baseline's spread, never from fixed milliseconds: under emulation the
 * scheduler adds noise that a fixed band would either hide or trip over.
 */
import type { CaseContext } from './harness.js';
import { mean, parsePing, quantile, rtts, type Interval, type PingSample } from './measure.js';
import type { Netns } from '../support/netns.js';
import { assertPristine, sharedTopology } from './topology.js';

export interface PingOptions {
  count: number;
  /** Seconds between echo requests (root may go below 0.2). */
  intervalS?: number;
  /** ICMP payload bytes (default 56). */
  sizeBytes?: number;
  /**
   * Run ping on this CPU only (`taskset -c`): netem's watchdog timer is pinned to the CPU that
   * armed it, so the whole path then runs on one CPU and veth's per-CPU backlogs cannot reorder
   * what netem released in order (for ordering measurements).
   */
  cpu?: number;
}

/**
 * `ping -n -c count -i interval` from `ns` to `dst`; waits 2 s after the last request for late
 * replies (`-W 2`). Resolves to per-sequence replies; rejects when ping does not finish within 4x its
 * nominal duration + 20 s.
 */
export async function ping(ns: Netns, dst: string, o: PingOptions): Promise<PingSample> {
  const interval = o.intervalS ?? 0.01;
  // No -w: with a deadline, ping keeps sending until `count` replies arrive.
  const argv = [...(o.cpu !== undefined ? ['taskset', '-c', String(o.cpu)] : []),
    'ping', '-n', '-c', String(o.count), '-i', String(interval), '-W', '2', '-s', String(o.sizeBytes ?? 56), dst];
  const r = await ns.exec(argv, { allowFail: true, timeoutMs: (o.count * interval * 4 + 20) * 1000 });
  // ping exits 1 when some replies are missing: that is a measurement, not an error.
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`ping failed (${r.exitCode}): ${argv.join(' ')}\n${r.stderr}`);
  return parsePing(r.stdout);
}

export interface Baseline {
  /** RTT quantiles of the unimpaired path (ms). */
  p10: number;
  p50: number;
  p90: number;
  mean: number;
  n: number;
}

/** Summarise a sample's RTTs. Throws when nothing was answered. */
export function summarise(s: PingSample): Baseline {
  const xs = rtts(s);
  return { p10: quantile(xs, 0.1), p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), mean: mean(xs), n: xs.length };
}

const BASELINE_KEY = 'baseline:two-hosts';

/**
 * The unimpaired a -> b RTT of the shared topology, measured once per boot (cached in `t.shared`)
 * after checking that no impairment is installed on either end. 500 echoes at 10 ms.
 */
export async function baseline(t: CaseContext): Promise<Baseline> {
  const cached = t.shared.get(BASELINE_KEY) as Baseline | undefined;
  if (cached) return cached;
  const topo = await sharedTopology(t);
  await assertPristine(topo.a, topo.aIf);
  await assertPristine(topo.b, topo.bIf);
  const s = await ping(topo.a, topo.bIp, { count: 500, intervalS: 0.01 });
  const b = summarise(s);
  if (b.n < s.transmitted * 0.99) throw new Error(`the unimpaired path lost ${s.transmitted - b.n}/${s.transmitted} echoes: the guest is not healthy`);
  t.log(`baseline RTT p10 ${b.p10.toFixed(3)} p50 ${b.p50.toFixed(3)} p90 ${b.p90.toFixed(3)} ms (n=${b.n})`);
  t.shared.set(BASELINE_KEY, b);
  return b;
}

/**
 * Where the median RTT must land when `addedMs` of netem delay (sum over the directions the echo
 * crosses) is configured with symmetric jitter: baseline median + added, widened by four times the
 * baseline's p10..p90 spread plus 1 ms (netem's hrtimer slack and scheduling under emulation both
 * show up in that spread) and by 10% of the added delay for the timer's granularity at low HZ.
 */
export function delayBand(b: Baseline, addedMs: number): Interval {
  const spread = Math.max(b.p90 - b.p10, 0.05);
  const slack = 4 * spread + 1 + 0.1 * addedMs;
  return { lo: b.p50 + addedMs - slack, hi: b.p50 + addedMs + slack };
}
