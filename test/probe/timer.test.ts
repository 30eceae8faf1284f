import { describe, expect, it } from 'vitest';
import { FakeClock, systemClock } from '../../core/clock.js';
import { createWaiter, isTimerMode } from '../../probe/timer.js';

/** Drive a fake clock: each spin tick advances it by `stepNs`. */
function spinningFake(stepNs: bigint): { clock: FakeClock; tick: () => Promise<void> } {
  const clock = new FakeClock(0);
  return { clock, tick: async () => { await clock.advance(Number(stepNs) / 1e6); } };
}

describe('createWaiter (fake clock)', () => {
  it('sleep mode never resolves before the deadline and needs no spin', async () => {
    const clock = new FakeClock(0);
    const w = createWaiter('sleep', clock);
    let done: bigint | undefined;
    void w.waitUntil(5_500_000n).then((t) => { done = t; });
    await clock.advance(5);
    expect(done).toBeUndefined();
    await clock.advance(1);
    await new Promise((r) => setImmediate(r));
    // slept ceil(5.5) = 6 ms
    expect(done).toBe(6_000_000n);
    expect(w.stats().spinNs).toBe(0n);
    expect(w.stats().lateWaits).toBe(1);
    expect(w.stats().totalLatenessNs).toBe(500_000n);
  });

  it('busy mode spins to the exact deadline', async () => {
    const { clock, tick } = spinningFake(100_000n);
    const w = createWaiter('busy', clock, { yieldTick: tick });
    const t = await w.waitUntil(1_000_000n);
    expect(t).toBe(1_000_000n);
    expect(w.stats().spinNs).toBe(1_000_000n);
    expect(w.stats().lateWaits).toBe(0);
  });

  it('hybrid sleeps whole ms down to the margin, then spins only the rest', async () => {
    const clock = new FakeClock(0);
    const tick = async (): Promise<void> => { await clock.advance(0.01); };
    const w = createWaiter('hybrid', clock, { yieldTick: tick, spinMinNs: 100_000n, spinMaxNs: 2_000_000n });
    expect(w.stats().marginNs).toBe(1_000_000n); // initial estimate 0.5 ms + 4 x 0.125 ms
    const p = w.waitUntil(10_000_000n);
    await clock.advance(9); // slept floor(10 - 1) = 9 ms, then spins in 10 us ticks
    expect(await p).toBe(10_000_000n);
    expect(w.stats().spinNs).toBe(1_000_000n);
    // the fake timer always wakes exactly on time: the margin shrinks to spinMin
    for (let k = 2; k <= 40; k++) {
      const q = w.waitUntil(BigInt(k) * 10_000_000n);
      await clock.advance(Number((BigInt(k) * 10_000_000n - clock.monoNs()) / 1_000_000n));
      expect(await q).toBe(BigInt(k) * 10_000_000n);
    }
    expect(w.stats().marginNs).toBe(100_000n);
    expect(w.stats().lateWaits).toBe(0);
  });

  it('a past deadline resolves with the current time after one tick', async () => {
    const clock = new FakeClock(0);
    await clock.advance(3);
    const w = createWaiter('hybrid', clock, { yieldTick: () => Promise.resolve() });
    expect(await w.waitUntil(1_000_000n)).toBe(3_000_000n);
    expect(w.stats().totalLatenessNs).toBe(2_000_000n);
  });

  it('abort rejects with the reason', async () => {
    const clock = new FakeClock(0);
    const w = createWaiter('sleep', clock);
    const ac = new AbortController();
    const p = w.waitUntil(50_000_000n, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    const ac2 = new AbortController();
    ac2.abort(new Error('early'));
    await expect(w.waitUntil(1n, ac2.signal)).rejects.toThrow('early');
  });

  it('validates modes', () => {
    expect(isTimerMode('hybrid')).toBe(true);
    expect(isTimerMode('comp')).toBe(false);
  });
});

describe('createWaiter (system clock)', () => {
  it.each(['sleep', 'hybrid', 'busy'] as const)('%s never returns before its deadline', async (mode) => {
    const w = createWaiter(mode, systemClock);
    for (let i = 0; i < 20; i++) {
      const deadline = process.hrtime.bigint() + 1_300_000n;
      const t = await w.waitUntil(deadline);
      expect(t >= deadline).toBe(true);
    }
  });
});
