/**
 * The isochronous send loop shared by every probe kind.
 *
 *   slot k at t0 + k*Δ ──wait (timer)──> on time? ──yes──> send(seq) ; seq += 1
 *                                          └─no (> Δ/2 late)──> missed += n (with lateness), skip n slots
 *
 * Slots never drift (absolute deadlines). A slot the sender reaches more than half an interval
 * late (event-loop stall, GC, CPU starvation) is counted `missed` together with its lateness and is
 * NOT sent: never a catch-up burst, never counted as network loss, and sequence numbers stay
 * contiguous (irtt's rule). With a duration, every planned slot (those before t0 + duration) is
 * either sent or missed, exactly once: sent + missed = ceil(duration / Δ). Timeouts are checked at every wake-up; after the last slot the loop
 * waits up to one timeout for outstanding replies, then declares the rest lost.
 *
 * Cancellation: aborting `signal` ends the send phase at once; outstanding replies are still
 * awaited (at most one timeout) unless `drain: false`.
 */
import type { Clock } from '../core/clock.js';
import type { ProbeStats } from './stats/engine.js';
import type { Waiter } from './timer.js';

export interface ScheduleOptions {
  clock: Clock;
  waiter: Waiter;
  stats: ProbeStats;
  intervalNs: bigint;
  timeoutNs: bigint;
  /** Session origin (monotonic ns); stats times are relative to it. */
  originNs: bigint;
  /** First slot time (monotonic ns, >= originNs). */
  t0Ns: bigint;
  /** Stop after this many probes sent. */
  count?: number;
  /** Stop before the first slot at or after t0 + duration. */
  durationNs?: bigint;
  /** Send probe `seq` now (intended time given, session-relative ns); returns the actual send time (mono ns). */
  send: (seq: number, intendedRelNs: number) => bigint;
  signal?: AbortSignal;
  /** Called after each wake-up (for live counters); must be cheap. */
  onTick?: () => void;
}

export async function runSchedule(o: ScheduleOptions): Promise<void> {
  const { clock, waiter, stats, intervalNs, originNs } = o;
  const rel = (ns: bigint): number => Number(ns - originNs);
  const count = o.count ?? Infinity;
  const end = o.durationNs === undefined ? undefined : o.t0Ns + o.durationNs;
  let k = 0n;
  let seq = 0;
  const half = intervalNs / 2n;
  while (seq < count && !o.signal?.aborted) {
    const deadline = o.t0Ns + k * intervalNs;
    if (end !== undefined && deadline >= end) break;
    let now: bigint;
    try {
      now = await waiter.waitUntil(deadline, o.signal);
    } catch {
      break; // aborted
    }
    const late = now - deadline;
    if (late > half) {
      let n = (late + half) / intervalNs; // slots whose deadline is more than Δ/2 behind now
      // Only slots of the run count: with a duration, none at or after t0 + duration.
      if (end !== undefined) {
        const left = (end - deadline + intervalNs - 1n) / intervalNs;
        if (n > left) n = left;
      }
      stats.missed(Number(n), Number(late));
      k += n;
      stats.expire(rel(now));
      o.onTick?.();
      continue;
    }
    o.send(seq, rel(deadline));
    seq += 1;
    k += 1n;
    stats.expire(rel(now));
    o.onTick?.();
  }
}

/** After the last send: wait for replies (polling every few ms, at most `timeoutNs`), then finish. */
export async function drainReplies(o: Pick<ScheduleOptions, 'clock' | 'stats' | 'timeoutNs' | 'originNs'> & { drain: boolean; signal?: AbortSignal }): Promise<void> {
  const { clock, stats } = o;
  const until = clock.monoNs() + o.timeoutNs;
  while (o.drain && stats.counts().inFlight > 0 && !o.signal?.aborted) {
    const now = clock.monoNs();
    if (now >= until) break;
    stats.expire(Number(now - o.originNs));
    const left = Number(until - now) / 1e6;
    try {
      await clock.sleep(Math.max(1, Math.min(5, Math.ceil(left))), o.signal);
    } catch {
      break;
    }
  }
  stats.expire(Number(clock.monoNs() - o.originNs));
  stats.finish();
}
