/**
 * Waiting primitives for schedules that must hit absolute monotonic deadlines (probe slots, relay
 * packet release). One API, three strategies with different CPU cost:
 *
 *   mode    how it waits                                        CPU cost            error at 1 ms slots
 *   sleep   setTimeout in whole ms, re-armed until the deadline  ~0                  up to ~1-2 ms late
 *   hybrid  setTimeout until a learned margin before the         spin <= margin      tens of us typical
 *           deadline, then a setImmediate spin to the deadline   + 1 ms per wait
 *   busy    setImmediate spin from the call to the deadline      one full core       a few us typical
 *
 * The spin is a chain of setImmediate callbacks, never a synchronous loop: I/O callbacks (socket
 * receives) keep running while a waiter spins, so waiting never blocks the receive path.
 *
 * The hybrid margin adapts like irtt's `comp` timer: it tracks how late setTimeout wakes up
 * (exponentially weighted mean and mean deviation of the overshoot, alpha 1/8) and sleeps until
 * `mean + 4 * deviation` (clamped to [spinMinNs, spinMaxNs]) before the deadline, so the spin is only
 * as long as the timer is unreliable. setTimeout has 1 ms granularity, so one wait spins at most
 * margin + 1 ms: at 10 ms intervals that is ~10 % of a core, at <= 2 ms intervals it is nearly a
 * full core (use `sleep` there if CPU matters more than slot accuracy).
 *
 * Contract: `waitUntil(deadlineNs)` resolves with the monotonic time (ns, the clock's `monoNs()`) at
 * which it returned, which is >= deadlineNs unless the clock is a fake one driven past it; a deadline
 * already in the past resolves after one yield tick (I/O runs) with the current time. It never resolves
 * early. Abort rejects with the signal's reason and stops any timer or spin. Waiters keep no
 * reference to the event loop beyond the pending wait. Several waits may be pending at once.
 */
import type { Clock } from '../core/clock.js';

export type TimerMode = 'sleep' | 'hybrid' | 'busy';

export const TIMER_MODES: readonly TimerMode[] = ['sleep', 'hybrid', 'busy'];

/** The default: hybrid does not burn a core, and keeps schedule error well under a millisecond. */
export const DEFAULT_TIMER_MODE: TimerMode = 'hybrid';

export interface WaiterOptions {
  /** hybrid: smallest spin window (ns); default 100 us. */
  spinMinNs?: bigint;
  /** hybrid: largest spin window (ns); default 1 ms. */
  spinMaxNs?: bigint;
  /** One spin step; default setImmediate. Injected so tests can drive spins with a fake clock. */
  yieldTick?: () => Promise<void>;
}

export interface WaiterStats {
  waits: number;
  /** Waits that returned more than 0 ns after their deadline (any lateness at all). */
  lateWaits: number;
  /** Sum of (returned - deadline) over all waits, ns. */
  totalLatenessNs: bigint;
  /** Time spent in spin steps (ns): the part of waiting that costs CPU. */
  spinNs: bigint;
  /** hybrid: the current learned spin margin (ns); 0 for sleep and busy. */
  marginNs: bigint;
}

export interface Waiter {
  readonly mode: TimerMode;
  /** Wait until the monotonic clock reaches `deadlineNs`; resolves with the time it returned. */
  waitUntil(deadlineNs: bigint, signal?: AbortSignal): Promise<bigint>;
  stats(): WaiterStats;
}

const NS_PER_MS = 1_000_000n;

const immediateTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Parse a user-supplied timer mode (validated at the CLI edge). */
export function isTimerMode(s: string): s is TimerMode {
  return (TIMER_MODES as readonly string[]).includes(s);
}

export function createWaiter(mode: TimerMode, clock: Clock, opts: WaiterOptions = {}): Waiter {
  const spinMinNs = opts.spinMinNs ?? 100_000n;
  const spinMaxNs = opts.spinMaxNs ?? 1_000_000n;
  const yieldTick = opts.yieldTick ?? immediateTick;
  // EWMA of setTimeout overshoot (ns, as numbers: fractions matter for the average).
  // Start from a typical Linux figure (~0.5 ms late, margin 1 ms); it adapts within tens of waits.
  let overshootMean = 500_000;
  let overshootDev = 125_000;
  const s: WaiterStats = { waits: 0, lateWaits: 0, totalLatenessNs: 0n, spinNs: 0n, marginNs: 0n };

  const currentMargin = (): bigint => {
    if (mode === 'busy') return BigInt(Number.MAX_SAFE_INTEGER);
    if (mode === 'sleep') return 0n;
    let m = BigInt(Math.round(overshootMean + 4 * overshootDev));
    if (m < spinMinNs) m = spinMinNs;
    if (m > spinMaxNs) m = spinMaxNs;
    return m;
  };
  s.marginNs = mode === 'hybrid' ? currentMargin() : 0n;

  const learn = (overshootNs: number): void => {
    // Reject wild outliers (a GC pause or a descheduled process) so one stall cannot widen the spin
    // window for many waits: clamp the sample to 4 x the current margin.
    const cap = 4 * Number(currentMargin());
    const x = Math.min(Math.max(overshootNs, 0), cap);
    const err = x - overshootMean;
    overshootMean += err / 8;
    overshootDev += (Math.abs(err) - overshootDev) / 8;
    s.marginNs = currentMargin();
  };

  const checkAbort = (signal?: AbortSignal): void => {
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
  };

  async function waitUntil(deadlineNs: bigint, signal?: AbortSignal): Promise<bigint> {
    checkAbort(signal);
    const margin = currentMargin();
    // Phase 1: sleep in whole milliseconds while more than `margin` remains.
    if (mode !== 'busy') {
      for (;;) {
        const now = clock.monoNs();
        const remaining = deadlineNs - now - margin;
        if (remaining <= 0n) break;
        // sleep mode: round up so the deadline is never undershot by the sleep itself;
        // hybrid: round down (the spin covers the rest), at least 1 ms.
        let ms = mode === 'sleep' ? (remaining + NS_PER_MS - 1n) / NS_PER_MS : remaining / NS_PER_MS;
        if (ms < 1n) {
          if (mode === 'hybrid') break;
          ms = 1n;
        }
        const target = now + ms * NS_PER_MS;
        await clock.sleep(Number(ms), signal);
        if (mode === 'hybrid') learn(Number(clock.monoNs() - target));
      }
    }
    // Phase 2: spin (setImmediate chain) to the deadline.
    const spinStart = clock.monoNs();
    let now = spinStart;
    if (now < deadlineNs) {
      while (now < deadlineNs) {
        await yieldTick();
        checkAbort(signal);
        now = clock.monoNs();
      }
      s.spinNs += now - spinStart;
    } else {
      // A deadline already past still yields one tick, so a caller that keeps falling behind
      // cannot starve I/O callbacks.
      await yieldTick();
      checkAbort(signal);
      now = clock.monoNs();
    }
    s.waits += 1;
    const late = now - deadlineNs;
    if (late > 0n) {
      s.lateWaits += 1;
      s.totalLatenessNs += late;
    }
    return now;
  }

  return {
    mode,
    waitUntil,
    stats: () => ({ ...s }),
  };
}
