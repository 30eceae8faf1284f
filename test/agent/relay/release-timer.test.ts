import { describe, expect, it } from 'vitest';
import { ReleaseTimer } from '../../../agent/relay/release-timer.js';

/** A waiter whose waits the test resolves by hand; aborts reject like the real one. */
function manualWaiter() {
  const waits: Array<{ deadlineNs: bigint; signal: AbortSignal | undefined; resolve: () => void }> = [];
  return {
    waits,
    waitUntil(deadlineNs: bigint, signal?: AbortSignal): Promise<bigint> {
      return new Promise<bigint>((resolve, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason));
        waits.push({ deadlineNs, signal, resolve: () => resolve(deadlineNs) });
      });
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ReleaseTimer', () => {
  it('waits on t0 + ceil(atNs) and fires once', async () => {
    const w = manualWaiter();
    let fired = 0;
    const t = new ReleaseTimer(w, 1000n, () => fired++);
    t.arm(2.5);
    expect(w.waits.map((x) => x.deadlineNs)).toEqual([1003n]);
    w.waits[0]!.resolve();
    await tick();
    expect(fired).toBe(1);
  });

  it('keeps an earlier pending wait; an earlier time replaces it (the old one never fires)', async () => {
    const w = manualWaiter();
    let fired = 0;
    const t = new ReleaseTimer(w, 0n, () => fired++);
    t.arm(100);
    t.arm(100);
    t.arm(200);
    expect(w.waits).toHaveLength(1);
    t.arm(50);
    expect(w.waits).toHaveLength(2);
    expect(w.waits[0]!.signal!.aborted).toBe(true);
    w.waits[0]!.resolve();
    await tick();
    expect(fired).toBe(0);
    w.waits[1]!.resolve();
    await tick();
    expect(fired).toBe(1);
    // After firing nothing is pending, so a later time arms again.
    t.arm(300);
    expect(w.waits).toHaveLength(3);
  });

  it('cancel aborts the pending wait, is idempotent, and lets the next arm start fresh', async () => {
    const w = manualWaiter();
    let fired = 0;
    const t = new ReleaseTimer(w, 0n, () => fired++);
    t.arm(100);
    t.cancel();
    t.cancel();
    expect(w.waits[0]!.signal!.aborted).toBe(true);
    w.waits[0]!.resolve();
    await tick();
    expect(fired).toBe(0);
    t.arm(500);
    expect(w.waits).toHaveLength(2);
  });
});
