/**
 * NTP timestamps with sub-microsecond resolution for STAMP packets.
 *
 * `Date.now()` has 1 ms resolution, so the wall clock is sampled at the edges where its millisecond
 * ticks over (a short spin), each paired with the monotonic clock read on both sides of the edge.
 * Every later timestamp is anchor + (monoNs - anchorMonoNs): resolution of the monotonic clock, no
 * wall-clock steps mid-run (a run measures intervals; a stepped wall clock would corrupt T3 - T2 and
 * the jitter, never the RTT, which comes from the monotonic clock alone).
 *
 * With the system clock the anchor is taken ONCE PER PROCESS (the best of three edges: Date.now()
 * was seen to report an edge up to ~1 ms late on a loaded VM), so a sender and a reflector in one
 * process share it exactly. The anchor's uncertainty is measured, not assumed: the spread of the
 * three edges' offsets plus half the bracketing monotonic interval.
 *
 * Error Estimate (truthful): Node cannot read the kernel's synchronisation state (adjtimex), so the
 * S bit is set only when the caller declares the clock synchronised, and the error is
 *   anchor uncertainty + declared clock error (`clockErrorNs`, default 1 s when not declared,
 *   meaning "unknown"), rounded UP to the representable value.
 */
import { systemClock, type Clock } from '../core/clock.js';
import { encodeErrorEstimate, errorEstimateFromNs, unixNsToNtp } from './wire.js';

export interface TimestamperOptions {
  /** The host clock is disciplined to UTC (chrony/ntpd/PTP): sets the S bit. Default false. */
  synchronized?: boolean;
  /** Known bound of the host clock's offset from UTC (ns). Default: 1 s (unknown). */
  clockErrorNs?: number;
}

export interface Timestamper {
  /** NTP 64-bit timestamp of a monotonic instant. */
  ntpAt(monoNs: bigint): bigint;
  /** Unix ns of a monotonic instant. */
  unixNsAt(monoNs: bigint): bigint;
  /** Encoded 16-bit Error Estimate for our timestamps. */
  readonly errorEstimate: number;
  /** How precisely the wall clock was anchored (ns, half the bracketing monotonic interval). */
  readonly anchorUncertaintyNs: number;
}

export const UNKNOWN_CLOCK_ERROR_NS = 1e9;

interface Anchor {
  anchorUnixNs: bigint;
  anchorMonoNs: bigint;
  uncertaintyNs: number;
}

let processAnchor: Anchor | undefined;

/** The system clock's anchor, once per process: the earliest-detected of three edges. */
function systemAnchor(): Anchor {
  if (processAnchor) return processAnchor;
  const edges = [anchor(systemClock), anchor(systemClock), anchor(systemClock)];
  const offsets = edges.map((e) => e.anchorUnixNs - e.anchorMonoNs);
  let best = 0;
  for (let i = 1; i < edges.length; i++) if ((offsets[i] as bigint) > (offsets[best] as bigint)) best = i;
  const spread = Number(offsets.reduce((a, b) => (b > a ? b : a)) - offsets.reduce((a, b) => (b < a ? b : a)));
  const e = edges[best] as Anchor;
  processAnchor = { ...e, uncertaintyNs: e.uncertaintyNs + spread };
  return processAnchor;
}

export function createTimestamper(clock: Clock, opts: TimestamperOptions = {}): Timestamper {
  const { anchorUnixNs, anchorMonoNs, uncertaintyNs } = clock === systemClock ? systemAnchor() : anchor(clock);
  const clockErrorNs = opts.clockErrorNs ?? UNKNOWN_CLOCK_ERROR_NS;
  const errorEstimate = encodeErrorEstimate(errorEstimateFromNs(uncertaintyNs + clockErrorNs, opts.synchronized ?? false));
  const unixNsAt = (monoNs: bigint): bigint => anchorUnixNs + (monoNs - anchorMonoNs);
  return {
    unixNsAt,
    ntpAt: (monoNs) => unixNsToNtp(unixNsAt(monoNs)),
    errorEstimate,
    anchorUncertaintyNs: uncertaintyNs,
  };
}

/**
 * Unix ns of a wall time in ms, exact for an integer (a float product would lose up to ~256 ns at
 * today's epoch) and to the ns for a fraction. Never throws for a finite value (BigInt of a
 * fraction would).
 */
export function wallMsToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/**
 * Anchor wall time to the monotonic clock. A clock with integer-ms wall time (the system clock) is
 * anchored at a tick edge; a clock reporting sub-ms wall time (fake clocks, tests) is taken as is,
 * whichever read first shows the fraction (a clock may report an integer once and a fraction next).
 */
export function anchor(clock: Clock): Anchor {
  const w0 = clock.wallMs();
  if (!Number.isInteger(w0)) {
    // A clock with sub-ms wall time (fake clocks, clocks derived from the monotonic one): take its
    // reading as is, bracketed by two monotonic reads so that a preemption between the wall and
    // the monotonic read shows up as uncertainty instead of a silent offset; the tightest of a
    // few brackets wins (a stall widens one of them, rarely all).
    let best: Anchor | null = null;
    for (let i = 0; i < 5 && best?.uncertaintyNs !== 0; i++) {
      const before = clock.monoNs();
      const w = clock.wallMs();
      const after = clock.monoNs();
      if (Number.isInteger(w)) continue;
      const a = { anchorUnixNs: wallMsToNs(w), anchorMonoNs: (before + after) / 2n, uncertaintyNs: Number(after - before) / 2 };
      if (!best || a.uncertaintyNs < best.uncertaintyNs) best = a;
    }
    return best ?? { anchorUnixNs: wallMsToNs(w0), anchorMonoNs: clock.monoNs(), uncertaintyNs: 0 };
  }
  const limitNs = clock.monoNs() + 3_000_000n;
  let before = clock.monoNs();
  // Bounded by time (3 ms) and by iterations (a clock that never advances, e.g. a paused fake).
  for (let i = 0; ; i++) {
    const w = clock.wallMs();
    const after = clock.monoNs();
    if (w !== w0 && !Number.isInteger(w)) {
      // Sub-ms wall time after all (an integer first read was a coincidence): take this read as is.
      return { anchorUnixNs: wallMsToNs(w), anchorMonoNs: after, uncertaintyNs: 0 };
    }
    if (w !== w0) {
      // The tick from w0 to w happened between `before` and `after`.
      return { anchorUnixNs: BigInt(w) * 1_000_000n, anchorMonoNs: (before + after) / 2n, uncertaintyNs: Number(after - before) / 2 };
    }
    if (after > limitNs || i > 200_000) {
      // The wall clock did not tick (a frozen or coarse clock): fall back to 1 ms uncertainty.
      return { anchorUnixNs: BigInt(w0) * 1_000_000n + 500_000n, anchorMonoNs: after, uncertaintyNs: 1_000_000 };
    }
    before = after;
  }
}
