/**
 * The one pending wake-up of a relay pipe that releases queued data at set times. Times are ns
 * since `t0` (the pipe's monotonic origin, `Clock.monoNs()`).
 *
 * At most one wait is pending: arming for a time no earlier than the pending one is a no-op;
 * arming earlier aborts the pending wait and replaces it. `onFire` runs once for each wait that
 * completes without being replaced or cancelled; the caller re-arms from there if more is queued.
 */
import type { Waiter } from '../../probe/timer.js';

export class ReleaseTimer {
  private armedAt: number | null = null;
  private ctl: AbortController | null = null;

  constructor(
    private readonly waiter: Pick<Waiter, 'waitUntil'>,
    private readonly t0: bigint,
    private readonly onFire: () => void,
  ) {}

  /** Wake at `atNs` (ns since t0, rounded up to whole ns) unless a wait at or before it is pending. */
  arm(atNs: number): void {
    if (this.armedAt !== null && this.armedAt <= atNs) return;
    this.ctl?.abort();
    const ctl = new AbortController();
    this.ctl = ctl;
    this.armedAt = atNs;
    this.waiter.waitUntil(this.t0 + BigInt(Math.ceil(atNs)), ctl.signal).then(
      () => {
        if (this.ctl !== ctl) return;
        this.ctl = null;
        this.armedAt = null;
        this.onFire();
      },
      () => {
        /* aborted: a newer wait replaced this one, or the timer was cancelled */
      },
    );
  }

  /** Abort the pending wait, if any; its `onFire` will not run. Idempotent. */
  cancel(): void {
    this.ctl?.abort();
    this.ctl = null;
    this.armedAt = null;
  }
}
