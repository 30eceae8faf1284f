import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../core/random.js';
import { createDelaySampler, tableDist } from '../../../../agent/relay/stages/delay.js';
import { packetTimeNs, rateSendTimeNs } from '../../../../agent/relay/stages/rate.js';
import { createReorder } from '../../../../agent/relay/stages/reorder.js';
import { createSlot } from '../../../../agent/relay/stages/slot.js';
import { flipRandomBit } from '../../../../agent/relay/stages/corrupt.js';
import { distTable } from '../../../../agent/relay/dist-tables.js';

describe('tableDist (netem integer arithmetic)', () => {
  it.each([
    // mu, sigma, rnd, table entry -> expected, by hand from sch_netem.c's formula
    [10_000_000, 0, 123, null, 10_000_000],
    [10_000_000, 1_000_000, 0, null, 9_000_000],
    [10_000_000, 1_000_000, 1_999_999, null, 10_999_999],
    [10_000_000, 1_000_000, 2_000_000, null, 9_000_000],
  ])('mu=%d sigma=%d rnd=%d uniform -> %d', (mu, sigma, rnd, table, want) => {
    expect(tableDist(mu, sigma, rnd, table)).toBe(want);
  });

  it('table lookups: mu + t*sigma/8192 with the remainder rounded away from zero', () => {
    const t = Int16Array.from([8192, -8192, 4096, -1, 0]);
    // sigma = 3 ms = 3_000_000 ns: 3_000_000 / 8192 = 366 rem 1728.
    const sigma = 3_000_000;
    expect(tableDist(1e7, sigma, 0, t)).toBe(1e7 + 3_000_000); // 1728*8192 + 4096 -> /8192 = 1728
    expect(tableDist(1e7, sigma, 1, t)).toBe(1e7 - 3_000_000);
    expect(tableDist(1e7, sigma, 2, t)).toBe(1e7 + 1_500_000);
    // t = -1: x = -1728 - 4096 -> trunc(-5824/8192) = 0; 366 * -1 = -366
    expect(tableDist(1e7, sigma, 3, t)).toBe(1e7 - 366);
    expect(tableDist(1e7, sigma, 9, t)).toBe(1e7); // 9 % 5 = 4 -> t = 0
  });

  it('normal table samples have mean ~mu and sd ~sigma', () => {
    const s = createDelaySampler({ delayMs: 20, jitterMs: 5, distribution: 'normal' }, seededRandom(2));
    const n = 50_000;
    const xs = Array.from({ length: n }, () => s.sampleNs() / 1e6);
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    expect(Math.abs(mean - 20)).toBeLessThan((4.4 * 5) / Math.sqrt(n));
    expect(Math.abs(sd - 5)).toBeLessThan(0.1);
    expect(distTable('normal').length).toBe(4096);
  });

  it('no jitter: every sample is the delay; zero flags "no delay"', () => {
    const s = createDelaySampler({ delayMs: 7.5 }, seededRandom(1));
    expect(s.sampleNs()).toBe(7_500_000);
    expect(s.zero).toBe(false);
    expect(createDelaySampler({}, seededRandom(1)).zero).toBe(true);
  });
});

describe('rate (packet_time_ns)', () => {
  it.each([
    [1000, { rateKbit: 8000 }, 1_000_000],
    [1500, { rateKbit: 1000 }, 12_000_000],
    [100, { rateKbit: 8000, packetOverheadBytes: 20 }, 120_000],
    // cells of 48 with 5 bytes overhead each (ATM-like): 100 B -> 3 cells -> 159 B
    [100, { rateKbit: 8000, cellSizeBytes: 48, cellOverheadBytes: 5 }, 159_000],
  ])('%d bytes at %o -> %d ns', (len, cfg, want) => {
    expect(packetTimeNs(len, cfg)).toBe(want);
  });

  it('a packet behind a queued one starts from that packet\'s send time, delay credited', () => {
    expect(rateSendTimeNs(1000, 500, null, 100)).toBe(1600);
    // last queued at 1800: delay 500 - (1800 - 1000) < 0 -> 0; send at 1800 + 100
    expect(rateSendTimeNs(1000, 500, 1800, 100)).toBe(1900);
    expect(rateSendTimeNs(1000, 500, 1200, 100)).toBe(1200 + 300 + 100);
  });
});

describe('reorder + gap', () => {
  it('gap 5 at 100 %: every 5th candidate goes now, then 4 are delayed', () => {
    const r = createReorder({ delayMs: 10, reorderPct: 100, reorderGap: 5 }, seededRandom(1));
    const pattern: string[] = [];
    for (let i = 0; i < 15; i++) {
      if (r.sendNow()) pattern.push('R');
      else {
        r.delayed();
        pattern.push('d');
      }
    }
    expect(pattern.join('')).toBe('ddddRddddRddddR');
  });

  it('no gap given: every packet is a candidate at the configured probability', () => {
    const r = createReorder({ delayMs: 10, reorderPct: 25 }, seededRandom(3));
    const n = 100_000;
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (r.sendNow()) k++;
      else r.delayed();
    }
    expect(Math.abs(k - n * 0.25)).toBeLessThan(4.4 * Math.sqrt(n * 0.25 * 0.75));
  });
});

describe('slot', () => {
  it('lets N packets through per slot and opens the next slot min..max later', () => {
    const s = createSlot({ minDelayMs: 1, maxDelayMs: 1, packets: 2 }, seededRandom(1), 0);
    expect(s.nextNs).toBe(0);
    s.consume(100, 0);
    expect(s.nextNs).toBe(0);
    s.consume(100, 0);
    expect(s.nextNs).toBe(1_000_000);
  });

  it('a slot that went idle before a packet was due restarts at the packet', () => {
    const s = createSlot({ minDelayMs: 2, maxDelayMs: 4 }, seededRandom(5), 0);
    s.onPeek(10_000_000, 10_000_000);
    expect(s.nextNs).toBeGreaterThanOrEqual(12_000_000);
    expect(s.nextNs).toBeLessThan(14_000_000);
  });
});

describe('corrupt', () => {
  it('flips exactly one bit', () => {
    const rng = seededRandom(4);
    for (let i = 0; i < 200; i++) {
      const a = Buffer.alloc(37, 0x5a);
      const idx = flipRandomBit(a, rng);
      let bits = 0;
      for (let j = 0; j < a.length; j++) {
        let x = a[j]! ^ 0x5a;
        while (x) {
          bits += x & 1;
          x >>= 1;
        }
      }
      expect(bits).toBe(1);
      expect(a[idx]).not.toBe(0x5a);
    }
    expect(flipRandomBit(Buffer.alloc(0), rng)).toBe(-1);
  });
});
