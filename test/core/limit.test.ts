import { describe, expect, it } from 'vitest';
import { effectiveLimitPackets } from '../../core/limit.js';

describe('effectiveLimitPackets = max(1000, ceil(1.5 * rate * (delay + 4 jitter + slot + 20 ms) / (8 * 1500 B)))', () => {
  it.each([
    [{ limitPackets: 420, delayMs: 300 }, 420], // explicit wins, even below 1000
    [{}, 2500], // 1 Gbit/s assumed, 20 ms allowance: 1.5e9 * 0.02 / 12000
    [{ rateKbit: 8000, delayMs: 20 }, 1000], // 40 packets: never below netem's default
    [{ delayMs: 100 }, 15_000], // the reference's 1 Gbit/s x 100 ms example (+20 ms allowance)
    [{ delayMs: 300, jitterMs: 10 }, 45_000], // GEO at line rate: hold 360 ms
    [{ rateKbit: 25_000, delayMs: 300, jitterMs: 10 }, 1125],
    [{ rateKbit: 1_000_000, slot: { minDelayMs: 0.8, maxDelayMs: 10 } }, 3750],
    [{ rateKbit: 1_000_000, slot: { minDelayMs: 10 } }, 3750],
  ])('%j -> %d', (imp, limit) => {
    expect(effectiveLimitPackets(imp)).toBe(limit);
  });
});
