import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../core/random.js';
import type { Impairment } from '../../../core/profile.js';
import { NetemEngine, type EnginePacket } from '../../../agent/relay/netem-engine.js';

const MS = 1_000_000;

function pkt(i: number, len = 100): EnginePacket<number> {
  const data = Buffer.alloc(len);
  data.writeUInt32BE(i, 0);
  return { data, wireLen: len, meta: i };
}

/** Feed `n` packets every `gapNs`, then drain; returns [meta, sendTimeNs] in release order. */
function simulate(imp: Impairment, n: number, gapNs: number, seed = 1): { out: [number, number][]; drops: number; dups: number } {
  const e = new NetemEngine<number>(imp, seededRandom(seed), 0);
  const out: [number, number][] = [];
  let drops = 0;
  let dups = 0;
  let now = 0;
  const releaseUntil = (t: number): void => {
    for (;;) {
      const next = e.nextReleaseNs(now);
      if (next === null || next > t) break;
      now = Math.max(now, next);
      const p = e.dequeue(now);
      if (!p) break;
      out.push([p.meta, now]);
    }
    now = t;
  };
  for (let i = 0; i < n; i++) {
    releaseUntil(i * gapNs);
    const o = e.enqueue(pkt(i), now);
    drops += o.drops.length;
    if (o.duplicated) dups++;
  }
  releaseUntil(Number.MAX_SAFE_INTEGER / 2);
  return { out, drops, dups };
}

function inversions(xs: number[]): number {
  let k = 0;
  let max = -1;
  for (const x of xs) {
    if (x < max) k++;
    max = Math.max(max, x);
  }
  return k;
}

describe('NetemEngine', () => {
  it('empty impairment: transparent, every packet released at arrival, in order', () => {
    const e = new NetemEngine<number>({}, seededRandom(1), 0);
    expect(e.transparent).toBe(true);
    const r = simulate({}, 100, MS);
    expect(r.out.map((x) => x[0])).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(r.out.every(([i, t]) => t === i * MS)).toBe(true);
  });

  it('fixed delay: released exactly delay after arrival', () => {
    const r = simulate({ delayMs: 25 }, 50, MS);
    expect(r.out.every(([i, t]) => t === i * MS + 25 * MS)).toBe(true);
  });

  it('jitter reorders (tfifo is time-sorted), as netem does', () => {
    const r = simulate({ delayMs: 20, jitterMs: 10 }, 2000, 100_000);
    expect(inversions(r.out.map((x) => x[0]))).toBeGreaterThan(100);
    // released in send-time order
    for (let i = 1; i < r.out.length; i++) expect(r.out[i]![1]).toBeGreaterThanOrEqual(r.out[i - 1]![1]);
  });

  it('with rate, jitter does not reorder (serialization after the last queued packet)', () => {
    const r = simulate({ delayMs: 20, jitterMs: 10, rateKbit: 10_000 }, 2000, 100_000);
    expect(inversions(r.out.map((x) => x[0]))).toBe(0);
  });

  it('keepOrder: the same jitter and seed reorder without it and never with it', () => {
    // 20 ms +/- 15 ms, a packet every 1 ms: the jitter spans 30 packet spacings.
    const without = simulate({ delayMs: 20, jitterMs: 15 }, 2000, MS, 7);
    const kept = simulate({ delayMs: 20, jitterMs: 15, keepOrder: true }, 2000, MS, 7);
    expect(inversions(without.out.map((x) => x[0]))).toBeGreaterThan(100);
    expect(inversions(kept.out.map((x) => x[0]))).toBe(0);
    expect(kept.out).toHaveLength(2000);
  });

  it('keepOrder: release time = max(own send time, the previous release); a packet never waits without cause', () => {
    // Replay the same delay draws: keepOrder changes when packets leave, not the draws.
    const free = simulate({ delayMs: 20, jitterMs: 15 }, 500, MS, 3);
    const own = new Map(free.out.map(([i, t]) => [i, t]));
    const kept = simulate({ delayMs: 20, jitterMs: 15, keepOrder: true }, 500, MS, 3);
    let prev = 0;
    for (const [i, t] of kept.out) {
      expect(t).toBe(Math.max(own.get(i)!, prev));
      prev = t;
    }
    // head-of-line blocking only ever adds delay
    expect(kept.out.some(([i, t]) => t > own.get(i)!)).toBe(true);
  });

  it('keepOrder with a duplicate: the copy leaves after the original, order still kept', () => {
    const r = simulate({ delayMs: 20, jitterMs: 15, keepOrder: true, duplicatePct: 20 }, 1000, MS, 5);
    expect(r.dups).toBeGreaterThan(100);
    expect(inversions(r.out.map((x) => x[0]))).toBe(0);
  });

  it('rate: back-to-back packets leave one serialization time apart', () => {
    // 100-byte packets at 800 kbit/s = 1 ms each; offered every 0.1 ms.
    const r = simulate({ rateKbit: 800, limitPackets: 10_000 }, 100, 100_000);
    const times = r.out.map((x) => x[1]);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(MS);
  });

  it('queue limit drops arrivals while the queue is full', () => {
    // 1 ms per packet, offered 10x faster, limit 10: the queue fills and most arrivals drop.
    const r = simulate({ rateKbit: 800, limitPackets: 10 }, 1000, 100_000);
    expect(r.out.length + r.drops).toBe(1000);
    // Over 100 ms of offering, ~100 leave at 1 ms each, plus the 10 still queued at the end.
    expect(r.out.length).toBeGreaterThanOrEqual(105);
    expect(r.out.length).toBeLessThanOrEqual(112);
  });

  it('duplicate: copies at the configured rate; a copy is not duplicated again', () => {
    const n = 50_000;
    const r = simulate({ duplicatePct: 10 }, n, 1000, 3);
    expect(Math.abs(r.dups - n * 0.1)).toBeLessThan(4.4 * Math.sqrt(n * 0.1 * 0.9));
    expect(r.out.length).toBe(n + r.dups);
  });

  it('loss 100 % drops everything; duplicate + loss keeps one copy (netem count)', () => {
    const r = simulate({ loss: { model: 'random', pct: 100 } }, 100, MS);
    expect(r.out.length).toBe(0);
    expect(r.drops).toBe(100);
    const both = simulate({ loss: { model: 'random', pct: 100 }, duplicatePct: 100 }, 100, MS);
    // count = 1 + 1 (dup) - 1 (loss) = 1 -> the original is sent; the copy goes through loss again.
    expect(both.out.length).toBe(100);
  });

  it('reorder with gap: every 5th packet overtakes the delayed ones', () => {
    const r = simulate({ delayMs: 10, reorderPct: 100, reorderGap: 5 }, 20, MS);
    const order = r.out.map((x) => x[0]);
    // packets 4, 9, 14, 19 go at once; others after 10 ms
    expect(r.out.filter(([i]) => i % 5 === 4).every(([i, t]) => t === i * MS)).toBe(true);
    expect(order.indexOf(4)).toBeLessThan(order.indexOf(0));
  });

  it('slot: releases in bursts of N per slot', () => {
    const r = simulate({ slot: { minDelayMs: 5, maxDelayMs: 5, packets: 4 } }, 40, 100_000);
    const byTime = new Map<number, number>();
    for (const [, t] of r.out) byTime.set(t, (byTime.get(t) ?? 0) + 1);
    expect(Math.max(...byTime.values())).toBeLessThanOrEqual(4);
    expect(r.out.length).toBe(40);
    // 40 packets, 4 per 5 ms slot: at least 9 slot gaps -> last release >= 45 ms
    expect(r.out[r.out.length - 1]![1]).toBeGreaterThanOrEqual(45 * MS);
  });

  it('corrupt 100 %: every packet has one bit flipped', () => {
    const e = new NetemEngine<number>({ corruptPct: 100 }, seededRandom(1), 0);
    const p = pkt(0, 64);
    const before = Buffer.from(p.data);
    const o = e.enqueue(p, 0);
    expect(o.corrupted).toBe(1);
    const got = e.dequeue(0)!;
    let diffBits = 0;
    for (let i = 0; i < 64; i++) diffBits += ((got.data[i]! ^ before[i]!) >>> 0).toString(2).split('1').length - 1;
    expect(diffBits).toBe(1);
  });

  it('configure keeps queued packets and applies the new parameters to new arrivals', () => {
    const e = new NetemEngine<number>({ delayMs: 50 }, seededRandom(1), 0);
    e.enqueue(pkt(0), 0);
    e.configure({ delayMs: 10 }, MS);
    e.enqueue(pkt(1), MS);
    expect(e.nextReleaseNs(MS)).toBe(11 * MS);
    expect(e.dequeue(11 * MS)!.meta).toBe(1);
    expect(e.dequeue(49 * MS)).toBeNull();
    expect(e.dequeue(50 * MS)!.meta).toBe(0);
  });

  it('same seed, same outcome', () => {
    const imp: Impairment = { delayMs: 10, jitterMs: 5, distribution: 'pareto', loss: { model: 'random', pct: 5 }, duplicatePct: 2 };
    expect(simulate(imp, 500, 50_000, 9)).toEqual(simulate(imp, 500, 50_000, 9));
  });
});
