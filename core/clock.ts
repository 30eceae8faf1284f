/**
 * Injected time. Engines take a `Clock` so tests can drive them with a fake one and assert exact
 * values. Monotonic time is in nanoseconds as bigint (`process.hrtime.bigint()`); wall time in ms.
 */

export interface Clock {
  /** Monotonic nanoseconds; only differences are meaningful. */
  monoNs(): bigint;
  /** Wall-clock milliseconds since the Unix epoch (may step). */
  wallMs(): number;
  /** Resolve after `ms` (rejects with the signal's reason when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  monoNs: () => process.hrtime.bigint(),
  wallMs: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * A clock for tests: time moves only when `advance()` is called; sleepers wake in deadline order.
 */
export class FakeClock implements Clock {
  private nowNs: bigint;
  private wallBaseMs: number;
  private sleepers: { deadlineNs: bigint; resolve: () => void }[] = [];

  constructor(startWallMs = 1_700_000_000_000, startMonoNs = 0n) {
    this.nowNs = startMonoNs;
    this.wallBaseMs = startWallMs;
  }

  monoNs(): bigint {
    return this.nowNs;
  }

  wallMs(): number {
    return this.wallBaseMs + Number(this.nowNs) / 1e6;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        reject(signal?.reason);
      };
      // The listener goes when the sleep resolves, so a long loop on one signal does not pile up
      // listeners (MaxListenersExceededWarning) or keep finished sleeps reachable.
      const entry = {
        deadlineNs: this.nowNs + BigInt(Math.round(ms * 1e6)),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Move time forward by `ms`, waking sleepers in deadline order (awaiting microtasks between). */
  async advance(ms: number): Promise<void> {
    const target = this.nowNs + BigInt(Math.round(ms * 1e6));
    for (;;) {
      this.sleepers.sort((a, b) => (a.deadlineNs < b.deadlineNs ? -1 : a.deadlineNs > b.deadlineNs ? 1 : 0));
      const next = this.sleepers[0];
      if (!next || next.deadlineNs > target) break;
      this.sleepers.shift();
      this.nowNs = next.deadlineNs;
      next.resolve();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.nowNs = target;
  }
}
