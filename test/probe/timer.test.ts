import { describe, expect, it } from 'vitest';
import { FakeClock, systemClock, type Clock } from '../../core/clock.js';
import { createWaiter, isTimerMode, SpinBudget } from '../../probe/timer.js';

/** A spin step that advances a fake clock by `stepMs` before calling back. */
function fakeStep(clock: FakeClock, stepMs: number, onStep?: () => void): (cb: () => void) => void {
  return (cb) => {
    onStep?.();
    void clock.advance(stepMs).then(cb);
  };
}

/** Drive a fake clock: each spin step advances it by `stepNs`. */
function spinningFake(stepNs: bigint): { clock: FakeClock; tick: (cb: () => void) => void } {
  const clock = new FakeClock(0);
  return { clock, tick: fakeStep(clock, Number(stepNs) / 1e6) };
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
    const w = createWaiter('busy', clock, { spinStep: tick });
    const t = await w.waitUntil(1_000_000n);
    expect(t).toBe(1_000_000n);
    expect(w.stats().spinNs).toBe(1_000_000n);
    expect(w.stats().lateWaits).toBe(0);
  });

  it('hybrid sleeps whole ms down to the margin, then spins only the rest', async () => {
    const clock = new FakeClock(0);
    const w = createWaiter('hybrid', clock, { spinStep: fakeStep(clock, 0.01), spinMinNs: 100_000n, spinMaxNs: 2_000_000n });
    expect(w.stats().marginNs).toBe(1_000_000n); // initial estimate 1 ms
    const p = w.waitUntil(10_000_000n);
    await clock.advance(9); // slept floor(10 - 1) = 9 ms, then spins in 10 us ticks
    expect(await p).toBe(10_000_000n);
    expect(w.stats().spinNs).toBe(1_000_000n);
    // the fake timer always wakes exactly on time: the margin shrinks to spinMin
    for (let k = 2; k <= 100; k++) { // 1 ms x (31/32)^k reaches 0.1 ms after ~73 on-time wakes
      const q = w.waitUntil(BigInt(k) * 10_000_000n);
      await clock.advance(Number((BigInt(k) * 10_000_000n - clock.monoNs()) / 1_000_000n));
      expect(await q).toBe(BigInt(k) * 10_000_000n);
    }
    expect(w.stats().marginNs).toBe(100_000n);
    expect(w.stats().lateWaits).toBe(0);
  });

  it('hybrid learns the timer overshoot: the margin settles near it, and spins stay within margin + 1 ms', async () => {
    const fake = new FakeClock(0);
    // a timer that always wakes 0.3 ms late
    const late: Clock = { monoNs: () => fake.monoNs(), wallMs: () => fake.wallMs(), sleep: (ms, signal) => fake.sleep(ms + 0.3, signal) };
    const budget = new SpinBudget(fake, 1, 1_000_000_000n); // no budget limit here
    const w = createWaiter('hybrid', late, { spinStep: fakeStep(fake, 0.01), budget });
    let maxSpinNs = 0n;
    for (let k = 1; k <= 200; k++) {
      const before = w.stats().spinNs;
      const deadline = BigInt(k) * 10_000_000n + 3_330_000n;
      const p = w.waitUntil(deadline);
      while (fake.monoNs() < deadline) await fake.advance(0.5);
      const t = await p;
      expect(t >= deadline).toBe(true);
      const spun = w.stats().spinNs - before;
      if (k > 100 && spun > maxSpinNs) maxSpinNs = spun;
    }
    const m = Number(w.stats().marginNs);
    // the tracker oscillates around the constant 0.3 ms overshoot: [0.3 x (1 - 1/32), 0.3 x (1 + 4/32)]
    expect(m).toBeGreaterThanOrEqual(290_000);
    expect(m).toBeLessThanOrEqual(338_000);
    expect(Number(maxSpinNs)).toBeLessThanOrEqual(m + 1_000_000 + 500_000); // + one 0.5 ms driver step
  });

  it('a past deadline resolves with the current time after one tick', async () => {
    const clock = new FakeClock(0);
    await clock.advance(3);
    let steps = 0;
    const w = createWaiter('hybrid', clock, { spinStep: (cb) => { steps++; queueMicrotask(cb); } });
    expect(await w.waitUntil(1_000_000n)).toBe(3_000_000n);
    expect(w.stats().totalLatenessNs).toBe(2_000_000n);
    expect(steps).toBe(1);
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

  it('hybrid spins at most its CPU budget; beyond it, it sleeps whole ms and counts the lateness', async () => {
    const clock = new FakeClock(0);
    // 10 % of a core, 2 ms burst; 0.7 ms slots are always inside the spin window (< margin + 1 ms).
    const budget = new SpinBudget(clock, 0.1, 2_000_000n);
    const w = createWaiter('hybrid', clock, { spinStep: fakeStep(clock, 0.01), budget });
    const intervalNs = 700_000n;
    const n = 200;
    let k = 1;
    const run = (async () => {
      while (k <= n) {
        const deadline = BigInt(k) * intervalNs;
        const t = await w.waitUntil(deadline);
        expect(t >= deadline).toBe(true);
        // the next slot not yet passed (a sleep may overshoot several 0.7 ms slots: skip them, as the probe does)
        k = Number(t / intervalNs) + 1;
      }
    })();
    // drive the fake timers: advance in 0.1 ms steps until the run completes
    let finished = false;
    void run.then(() => { finished = true; });
    while (!finished) await clock.advance(0.1);
    await run;
    const st = w.stats();
    const elapsedNs = Number(clock.monoNs());
    // mechanism bound: spin time <= burst + fraction x elapsed (the fake spin costs exactly what it reserves)
    // (+ one 0.1 ms driver step: the driver advances the clock during a spin too, so a spin can overrun by that)
    expect(Number(st.spinNs)).toBeLessThanOrEqual(2_000_000 + 0.1 * elapsedNs + 100_000);
    expect(st.spinNs).toBeGreaterThan(0n);
    expect(st.spinBudgetDenied).toBeGreaterThan(0);
    expect(st.lateWaits).toBeGreaterThan(0);
    // a denied wait sleeps ceil(remaining) whole ms: late by less than 1 ms with an exact fake timer
    expect(Number(st.totalLatenessNs) / st.lateWaits).toBeLessThan(1_000_000);
  });

  it('hybrid waiters on one clock share one budget by default', async () => {
    const clock = new FakeClock(0);
    const a = createWaiter('hybrid', clock, { spinStep: fakeStep(clock, 0.01) });
    const b = createWaiter('hybrid', clock, { spinStep: fakeStep(clock, 0.01) });
    // The default burst is 20 ms: a spends it on 0.9 ms spins (no time passes between waits but the spin's own),
    // until the bucket is too low for a spin that long
    let spun = 0;
    for (;;) {
      const p = a.waitUntil(clock.monoNs() + 900_000n);
      // the spin-or-sleep decision is taken synchronously in waitUntil
      if (a.stats().spinBudgetDenied > 0) {
        await clock.advance(1);
        await p;
        break;
      }
      await p;
      spun++;
    }
    expect(spun).toBeGreaterThan(5);
    // b has had no spin of its own, yet its first near wait is denied: the bucket is a.s as well
    const p = b.waitUntil(clock.monoNs() + 900_000n);
    await clock.advance(1);
    await p;
    expect(b.stats().spinBudgetDenied).toBe(1);
    expect(b.stats().spinNs).toBe(0n);
  });

  it('as the budget drains, hybrid still grants short spins but not long ones', async () => {
    const clock = new FakeClock(0);
    const budget = new SpinBudget(clock, 0, 10_000_000n); // 10 ms, no refill
    const w = createWaiter('hybrid', clock, { spinStep: fakeStep(clock, 0.01), budget });
    // spin window = margin (1 ms initially) + 1 ms = 2 ms; a spin is granted while need <= 2 ms x fill level
    await w.waitUntil(clock.monoNs() + 1_500_000n); // fill 1.0 -> granted, 8.5 ms left
    await w.waitUntil(clock.monoNs() + 1_500_000n); // fill 0.85 -> granted, 7 ms left
    expect(w.stats().spinBudgetDenied).toBe(0);
    const p = w.waitUntil(clock.monoNs() + 1_500_000n); // fill 0.7: 1.5 > 1.4 -> sleeps instead
    expect(w.stats().spinBudgetDenied).toBe(1);
    await clock.advance(2);
    await p;
    const spun = w.stats().spinNs;
    const t = await w.waitUntil(clock.monoNs() + 200_000n); // 0.2 ms <= 1.4 ms -> granted
    expect(w.stats().spinNs - spun).toBe(200_000n);
    expect(w.stats().spinBudgetDenied).toBe(1);
    expect(t).toBe(clock.monoNs());
  });

  it('abort during a spin rejects and stops spinning', async () => {
    const clock = new FakeClock(0);
    const ac = new AbortController();
    let steps = 0;
    const w = createWaiter('busy', clock, {
      spinStep: fakeStep(clock, 0.01, () => {
        if (++steps === 5) ac.abort(new Error('stop spinning'));
      }),
    });
    await expect(w.waitUntil(10_000_000n, ac.signal)).rejects.toThrow('stop spinning');
    await new Promise((r) => setImmediate(r));
    expect(steps).toBe(5);
  });

  it('SpinBudget refills at its fraction up to the burst and charges overruns', async () => {
    const clock = new FakeClock(0);
    const b = new SpinBudget(clock, 0.25, 1_000_000n);
    expect(b.tryReserve(1_000_000n)).toBe(true);
    expect(b.tryReserve(1n)).toBe(false);
    await clock.advance(2); // + 0.5 ms
    expect(b.availableNs()).toBe(500_000);
    expect(b.tryReserve(400_000n)).toBe(true);
    b.settle(400_000n, 700_000n); // the spin took 0.3 ms longer than reserved
    expect(b.availableNs()).toBe(-200_000);
    await clock.advance(100);
    expect(b.availableNs()).toBe(1_000_000);
    expect(() => new SpinBudget(clock, 1.5)).toThrow(RangeError);
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
