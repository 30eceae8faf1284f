/**
 * Traffic in the guest: ping between two namespaces with per-sequence replies (measure.ts does the
 * arithmetic), and the unimpaired baseline measured once per boot on the shared topology.
 *
 * Delay bands come from the baseline's spread and the sample sizes (measure.ts medianBand), plus
 * only what the mechanism adds (a netem timer's lateness, serialization at the profile's rate),
 * never from fixed milliseconds: under emulation the scheduler adds noise that a fixed band would
 * either hide or trip over.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { CaseContext } from './harness.js';
import { mean, medianBand, parsePing, quantile, rtts, type Interval, type PingSample } from './measure.js';
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
  /** Every RTT (ms), ascending: the bands use the sample itself, not only its quantiles. */
  sorted: number[];
}

/** Summarise a sample's RTTs. Throws when nothing was answered. */
export function summarise(s: PingSample): Baseline {
  const xs = rtts(s);
  return { p10: quantile(xs, 0.1), p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), mean: mean(xs), n: xs.length, sorted: [...xs].sort((a, b) => a - b) };
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

/** Bytes on the wire of an IPv4 echo with `payloadBytes` of ping data: + ICMP 8 + IPv4 20 + Ethernet 14. */
export function echoFrameBytes(payloadBytes = 56): number {
  return payloadBytes + 8 + 20 + 14;
}

/** Transmission time (ms) of `bytes` at `rateKbit`: bytes * 8 / rate. */
export function serializationMs(bytes: number, rateKbit: number): number {
  return (bytes * 8) / rateKbit;
}

let tickMs: number | undefined;

/**
 * The guest kernel's jiffy in ms (1000 / CONFIG_HZ: 4 ms for Debian's HZ=250), read from the
 * guest kernel's config in the cache (its folder is `bh.kroot` on the guest's command line).
 *
 * Why it bounds a netem stage's lateness: netem releases a delayed packet from its watchdog, a
 * soft hrtimer. The guest runs high-resolution timers (resolution 1 ns, hrtimer_interrupt), so the
 * timer is not rounded to ticks; what makes it late is waking an idle vCPU under emulation (a
 * QEMU host timer, then the softirq) or the softirq being deferred to ksoftirqd, which the
 * baseline's echoes (no timer on their path) never see. We allow one tick per stage for that;
 * measured here: ~0.25-0.4 ms per stage at load 4-8.
 */
export function guestTickMs(): number {
  if (tickMs !== undefined) return tickMs;
  const cmdline = readFileSync('/proc/cmdline', 'utf8');
  const kroot = /(?:^|\s)bh\.kroot=(\S+)/.exec(cmdline)?.[1];
  if (!kroot) throw new Error(`no bh.kroot= on the kernel command line (not in the kernel-tier guest?): ${cmdline.trim()}`);
  const config = `${kroot}/boot/config-${release()}`;
  const hz = Number(/^CONFIG_HZ=(\d+)$/m.exec(readFileSync(config, 'utf8'))?.[1]);
  if (!Number.isInteger(hz) || hz <= 0) throw new Error(`no CONFIG_HZ in ${config}`);
  tickMs = 1000 / hz;
  return tickMs;
}

export interface DelayExpectation {
  /** Configured netem delay summed over the directions the echo crosses (ms); no jitter. */
  addedMs: number;
  /** netem qdiscs that hold the echo (one per delayed direction crossed). */
  netemStages: number;
  /** The profile's rate in each rate-limited direction the echo crosses (kbit/s). */
  ratesKbit?: readonly number[];
  /** ping payload bytes (default 56). */
  payloadBytes?: number;
}

/**
 * Where the median of `sample` (RTTs, ms) must land for a path that adds `e` to the baseline:
 * expected = baseline median + configured delay (+ at most the frame's serialization at each
 * rate crossed), band from both samples' spread and sizes plus one guest tick of timer lateness
 * per netem stage (measure.ts medianBand; guestTickMs).
 */
export function delayBand(b: Baseline, sample: readonly number[], e: DelayExpectation): Interval {
  const frame = echoFrameBytes(e.payloadBytes);
  const ser = (e.ratesKbit ?? []).reduce((sum, r) => sum + serializationMs(frame, r), 0);
  return medianBand(b.sorted, sample, { addedMs: e.addedMs, netemStages: e.netemStages, lateMs: guestTickMs(), serializationMs: ser });
}
