import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { seededRandom } from '../../core/random.js';

describe('FakeClock', () => {
  it('wakes sleepers in deadline order as time advances', async () => {
    const clock = new FakeClock(0);
    const woke: string[] = [];
    void clock.sleep(30).then(() => woke.push(`b@${Number(clock.monoNs()) / 1e6}`));
    void clock.sleep(10).then(() => woke.push(`a@${Number(clock.monoNs()) / 1e6}`));
    await clock.advance(20);
    expect(woke).toEqual(['a@10']);
    await clock.advance(20);
    expect(woke).toEqual(['a@10', 'b@30']);
    expect(clock.monoNs()).toBe(40_000_000n);
  });

  it('rejects a sleep whose signal aborts', async () => {
    const clock = new FakeClock(0);
    const ac = new AbortController();
    const p = clock.sleep(10, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });

  it('removes its abort listener when a sleep resolves (no listener pile-up in long loops)', async () => {
    const clock = new FakeClock(0);
    const ac = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const loop = (async () => {
        for (let i = 0; i < 100; i++) await clock.sleep(1, ac.signal);
      })();
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      for (let i = 0; i < 100; i++) await clock.advance(1);
      await loop;
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
    // An abort after the sleeps finished rejects nothing and a new sleep still honours it.
    ac.abort(new Error('late'));
    await expect(clock.sleep(1, ac.signal)).rejects.toThrow('late');
  });
});

describe('seededRandom', () => {
  it('is reproducible for a seed and uniform in [0,1)', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 10_000 }, () => a.next());
    expect(Array.from({ length: 10_000 }, () => b.next())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // mean of U(0,1) over n samples: sd = 1/sqrt(12n); allow 5 sd
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 / Math.sqrt(12 * xs.length));
  });
});
