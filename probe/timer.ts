/**
 * Waiting primitives for schedules that must hit absolute monotonic deadlines (probe slots, relay
 * packet release). One API, three strategies with different CPU cost (measured figures in
 * bench/RESULTS.md; "spin" below is a chain of setImmediate callbacks):
 *
 *   mode    how it waits                                   CPU cost                  error (idle host)
 *   sleep   setTimeout in whole ms, re-armed until the      ~0 beyond the wake-ups    0.1-1 ms late (ms
 *           deadline                                                                  granularity)
 *   hybrid  setTimeout until a learned margin before the    spin capped by a CPU      tens of us while the
 *   (def.)  deadline, then a spin, within a CPU budget      budget: <= 10 % of a      budget lasts; sleep's
 *           (10 % of one core by default, shared by every   core on top of sleep's    error beyond it (at
 *           hybrid waiter on the same clock); beyond the                              <= 2 ms intervals)
 *           budget it sleeps like `sleep`
 *   busy    spin from the call to the deadline              one full core             a few us
 *
 * Why a budget: setTimeout has 1 ms granularity and wakes ~0.1 ms (idle) to several ms (loaded)
 * late, so a wait spins for up to margin + 1 ms. At >= 10 ms intervals that is a few % of a core and
 * the budget never binds; at 1 ms intervals every wait is inside the spin window, and without a cap
 * hybrid cost ~86-100 % of a core (probe) and 70-80 % (relay at 1 kpps); with the cap, 14 % and 19 %
 * (bench/RESULTS.md). A wait whose spin is not granted sleeps whole ms instead (counted in
 * `spinBudgetDenied`, its lateness in the lateness figures); as the bucket drains, only spins no
 * longer than (margin + 1 ms) x its fill level are granted, so scarce CPU goes to short spins, which
 * save nearly a ms of lateness each. For slot accuracy at <= 2 ms intervals, choose `busy` and pay
 * the core.
 *
 * The spin never blocks: it is a chain of setImmediate callbacks (I/O callbacks such as socket
 * receives keep running while a waiter spins), with one promise per wait and no allocation per
 * step beyond Node's own Immediate record.
 *
 * The hybrid margin adapts (like irtt's `comp` timer, with a quantile instead of a mean): it tracks
 * an upper quantile (~p80) of how late setTimeout wakes up and sleeps until that margin (clamped to
 * [spinMinNs, spinMaxNs]) before the deadline, so the spin is only as long as the timer is
 * unreliable. A wake-up later than margin + the sub-ms remainder is late, and counted.
 *
 * Contract: `waitUntil(deadlineNs)` resolves with the monotonic time (ns, the clock's `monoNs()`) at
 * which it returned, which is >= deadlineNs unless the clock is a fake one driven past it; a deadline
 * already in the past resolves after one yield tick (I/O runs) with the current time. It never resolves
 * early. Abort rejects with the signal's reason and stops any timer or spin. Waiters keep no
 * reference to the event loop beyond the pending wait. Several waits may be pending at once; callers
 * with many deadlines (the relay) wait for the earliest one and release everything due on wake-up.
 */
import type { Clock } from '../core/clock.js';

export type TimerMode = 'sleep' | 'hybrid' | 'busy';

export const TIMER_MODES: readonly TimerMode[] = ['sleep', 'hybrid', 'busy'];

/** The default: hybrid spins at most 10 % of a core, and keeps schedule error well under a ms where that fits. */
export const DEFAULT_TIMER_MODE: TimerMode = 'hybrid';

/** Default hybrid spin budget: fraction of one core, and the burst it may bank (ns). */
export const DEFAULT_SPIN_BUDGET = 0.1;
export const DEFAULT_SPIN_BURST_NS = 20_000_000n;

export interface WaiterOptions {
  /** hybrid: smallest spin window (ns); default 100 us. */
  spinMinNs?: bigint;
  /** hybrid: largest spin window (ns); default 1 ms. */
  spinMaxNs?: bigint;
  /**
   * hybrid: the spin budget to draw from. Default: one budget per clock (DEFAULT_SPIN_BUDGET of a
   * core, DEFAULT_SPIN_BURST_NS burst), shared by every hybrid waiter created on that clock, so a
   * relay with many flows, or a probe and a relay in one process, spin 10 % of a core in total.
   */
  budget?: SpinBudget;
  /**
   * One spin step: call `cb` soon, after pending I/O callbacks; default setImmediate. Injected so
   * tests can drive spins with a fake clock.
   */
  spinStep?: (cb: () => void) => void;
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
  /** hybrid: waits that would have spun but slept in whole ms because the spin budget was spent. */
  spinBudgetDenied: number;
}

export interface Waiter {
  readonly mode: TimerMode;
  /** Wait until the monotonic clock reaches `deadlineNs`; resolves with the time it returned. */
  waitUntil(deadlineNs: bigint, signal?: AbortSignal): Promise<bigint>;
  stats(): WaiterStats;
}

/**
 * A token bucket of spin time (ns): it fills at `fraction` ns per ns of clock time up to `burstNs`.
 * A spin is granted only when the bucket holds the whole expected spin (and, in hybrid, when the
 * spin is short enough for the bucket's fill level); the time actually spun is
 * charged (a descheduled spin may cost more than expected, and the bucket may go negative).
 */
export class SpinBudget {
  private tokensNs: number;
  private lastNs: bigint | null = null;
  private readonly burst: number;

  constructor(
    private readonly clock: Clock,
    readonly fraction: number = DEFAULT_SPIN_BUDGET,
    burstNs: bigint = DEFAULT_SPIN_BURST_NS,
  ) {
    if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`spin budget fraction must be 0..1 (got ${fraction})`);
    this.burst = Number(burstNs);
    this.tokensNs = this.burst;
  }

  private refill(): void {
    const now = this.clock.monoNs();
    if (this.lastNs !== null) this.tokensNs = Math.min(this.burst, this.tokensNs + Number(now - this.lastNs) * this.fraction);
    this.lastNs = now;
  }

  /** Reserve `ns` of spinning; false (nothing reserved) when the bucket does not hold it. */
  tryReserve(ns: bigint): boolean {
    this.refill();
    const n = Number(ns);
    if (this.tokensNs < n) return false;
    this.tokensNs -= n;
    return true;
  }

  /** Charge the difference between what a granted spin reserved and what it really took. */
  settle(reservedNs: bigint, spentNs: bigint): void {
    this.tokensNs -= Number(spentNs - reservedNs);
  }

  /** How full the bucket is now: 0 (empty or overdrawn) .. 1 (a whole burst banked). */
  fillLevel(): number {
    this.refill();
    return Math.max(0, this.tokensNs) / this.burst;
  }

  /** Spin time available now (ns; may be negative after an overrun). */
  availableNs(): number {
    this.refill();
    return this.tokensNs;
  }
}

const sharedBudgets = new WeakMap<Clock, SpinBudget>();

/** The default budget of `clock`: one per clock, shared by every hybrid waiter on it. */
export function sharedSpinBudget(clock: Clock): SpinBudget {
  let b = sharedBudgets.get(clock);
  if (!b) {
    b = new SpinBudget(clock);
    sharedBudgets.set(clock, b);
  }
  return b;
}

const NS_PER_MS = 1_000_000n;

/** Parse a user-supplied timer mode (validated at the CLI edge). */
export function isTimerMode(s: string): s is TimerMode {
  return (TIMER_MODES as readonly string[]).includes(s);
}

const abortReason = (signal: AbortSignal): unknown => signal.reason ?? new Error('aborted');

export function createWaiter(mode: TimerMode, clock: Clock, opts: WaiterOptions = {}): Waiter {
  const spinMinNs = opts.spinMinNs ?? 100_000n;
  const spinMaxNs = opts.spinMaxNs ?? 1_000_000n;
  const spinStep = opts.spinStep ?? setImmediate;
  const budget = mode === 'hybrid' ? (opts.budget ?? sharedSpinBudget(clock)) : null;
  // Upper quantile (~p80) of setTimeout overshoot (ns), tracked by multiplicative stochastic
  // approximation: up by 4/32 on a sample above it, down by 1/32 on one at or below (equilibrium
  // where ~21 % of samples lie above). Robust to the heavy tail of a loaded host, where a mean +
  // k * deviation estimate is dragged to the clamp by a few multi-ms wake-ups. Starts at 1 ms.
  let overshootQ = 1_000_000;
  const s: WaiterStats = { waits: 0, lateWaits: 0, totalLatenessNs: 0n, spinNs: 0n, marginNs: 0n, spinBudgetDenied: 0 };

  const currentMargin = (): bigint => {
    if (mode !== 'hybrid') return 0n;
    let m = BigInt(Math.round(overshootQ));
    if (m < spinMinNs) m = spinMinNs;
    if (m > spinMaxNs) m = spinMaxNs;
    return m;
  };
  s.marginNs = currentMargin();

  const learn = (overshootNs: number): void => {
    overshootQ = overshootNs > overshootQ ? overshootQ * (1 + 4 / 32) : overshootQ * (1 - 1 / 32);
    // keep the tracker inside the clamp range so it can move back quickly
    overshootQ = Math.min(Math.max(overshootQ, Number(spinMinNs)), Number(spinMaxNs));
    s.marginNs = currentMargin();
  };

  /** Spin (setImmediate chain) until `deadlineNs`, at least one step; one promise per call. */
  const spinUntil = (deadlineNs: bigint, signal?: AbortSignal): Promise<bigint> =>
    new Promise<bigint>((resolve, reject) => {
      const step = (): void => {
        if (signal?.aborted) {
          reject(abortReason(signal));
          return;
        }
        const now = clock.monoNs();
        if (now >= deadlineNs) resolve(now);
        else spinStep(step);
      };
      spinStep(step);
    });

  /** Sleep in whole ms, rounded up, until the deadline has passed; returns the time on waking. */
  const sleepPast = async (deadlineNs: bigint, signal?: AbortSignal): Promise<bigint> => {
    let now = clock.monoNs();
    while (now < deadlineNs) {
      await clock.sleep(Number((deadlineNs - now + NS_PER_MS - 1n) / NS_PER_MS), signal);
      now = clock.monoNs();
    }
    return now;
  };

  async function waitUntil(deadlineNs: bigint, signal?: AbortSignal): Promise<bigint> {
    if (signal?.aborted) throw abortReason(signal);
    let now = clock.monoNs();
    let slept = false;
    if (mode === 'sleep') {
      if (now < deadlineNs) {
        now = await sleepPast(deadlineNs, signal);
        slept = true;
      }
    } else if (mode === 'hybrid') {
      // Phase 1: sleep whole ms (rounded down) while more than margin + 1 ms remains.
      const margin = currentMargin();
      for (;;) {
        const ms = (deadlineNs - now - margin) / NS_PER_MS;
        if (ms < 1n) break;
        const target = now + ms * NS_PER_MS;
        await clock.sleep(Number(ms), signal);
        slept = true;
        now = clock.monoNs();
        learn(Number(now - target));
      }
      // Phase 2: spin the rest if the budget holds it, else sleep like `sleep` (counted). As the
      // bucket drains, only shorter spins are granted (a spin no longer than the full window times
      // the bucket's fill level): a short spin saves nearly a whole ms of lateness for little CPU,
      // a long one saves little more than the timer's overshoot, so scarce budget goes to short ones.
      if (now < deadlineNs) {
        const need = deadlineNs - now;
        const window = Number(margin + NS_PER_MS);
        if (budget && Number(need) <= window * budget.fillLevel() && budget.tryReserve(need)) {
          const t = await spinUntil(deadlineNs, signal);
          budget.settle(need, t - now);
          s.spinNs += t - now;
          now = t;
        } else {
          s.spinBudgetDenied += 1;
          now = await sleepPast(deadlineNs, signal);
        }
        slept = true;
      }
    } else if (now < deadlineNs) {
      const t = await spinUntil(deadlineNs, signal);
      s.spinNs += t - now;
      now = t;
      slept = true;
    }
    // A deadline already past at the call still yields one tick, so a caller that keeps falling
    // behind cannot starve I/O callbacks.
    if (!slept) now = await spinUntil(now, signal);
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
