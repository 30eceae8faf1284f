import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { ProbeStats } from '../../probe/stats/engine.js';
import { drainReplies, runSchedule } from '../../probe/schedule.js';
import type { Waiter } from '../../probe/timer.js';

const MS = 1_000_000n;

/** A waiter on a fake clock that wakes each deadline late by a scripted amount. */
function scriptedWaiter(clock: FakeClock, lateness: bigint[]): Waiter {
  return {
    mode: 'sleep',
    async waitUntil(deadline) {
      const t = deadline + (lateness.shift() ?? 0n);
      if (t > clock.monoNs()) await clock.advance(Number(t - clock.monoNs()) / 1e6);
      return clock.monoNs();
    },
    stats: () => ({ waits: 0, lateWaits: 0, totalLatenessNs: 0n, spinNs: 0n, marginNs: 0n, spinBudgetDenied: 0 }),
  };
}

function setup(lateness: bigint[]) {
  const clock = new FakeClock(0, 0n);
  const stats = new ProbeStats({ intervalNs: 10e6, timeoutNs: 50e6, windowSize: 64, outageMinLost: 3, directional: false, toWallMs: (n) => n / 1e6 });
  const sends: { seq: number; intended: number; at: bigint }[] = [];
  const send = (seq: number, intended: number): bigint => {
    const at = clock.monoNs();
    sends.push({ seq, intended, at });
    stats.sent(seq, intended, Number(at));
    return at;
  };
  return { clock, stats, sends, send, waiter: scriptedWaiter(clock, lateness) };
}

describe('runSchedule', () => {
  it('sends at t0 + k*interval exactly, no drift', async () => {
    const { clock, stats, sends, send, waiter } = setup([]);
    await runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, count: 5, send });
    expect(sends.map((s) => [s.seq, s.intended, s.at])).toEqual([[0, 0, 0n], [1, 10e6, 10n * MS], [2, 20e6, 20n * MS], [3, 30e6, 30n * MS], [4, 40e6, 40n * MS]]);
  });

  it('a wake more than half an interval late skips the slot(s) as missed: no catch-up burst, seq contiguous', async () => {
    // slot 2 wakes 25 ms late: slots 2,3,4 are missed (each > 5 ms behind), sending resumes at slot 5
    const { clock, stats, sends, send, waiter } = setup([0n, 0n, 25n * MS]);
    await runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, count: 4, send });
    expect(sends.map((s) => [s.seq, s.intended])).toEqual([[0, 0], [1, 10e6], [2, 50e6], [3, 60e6]]);
    expect(stats.counts()).toMatchObject({ missed: 3, sent: 4 }); // (unanswered probes time out as lost; missed slots never do)
    expect(stats.missedMaxLatenessNs).toBe(25e6);
  });

  it('a 10-interval stall raises rttFromIntended max by ~10 intervals; rttMs is unchanged', async () => {
    // every probe is answered 1 ms after it is sent; slot 3 wakes 100 ms late: slots 3..12 missed
    const run = async (lateness: bigint[]) => {
      const { clock, stats, send, waiter } = setup(lateness);
      const answer = (seq: number, intended: number): bigint => {
        const at = send(seq, intended);
        stats.reply(seq, Number(at) + 1e6, 0);
        return at;
      };
      await runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, count: 8, send: answer });
      return stats;
    };
    const calm = await run([]);
    const stalled = await run([0n, 0n, 0n, 100n * MS]);
    expect(stalled.counts().missed).toBe(10);
    expect(stalled.rtt.max).toBe(calm.rtt.max);
    expect(stalled.rtt.max).toBe(1e6);
    expect(calm.rttIntended.max).toBe(1e6);
    // resumes at slot 13 (130 ms, on time); slot 3 (30 ms) would have been answered at 131 ms
    expect(stalled.rttIntended.max).toBe(101e6);
    expect(stalled.rttIntended.count).toBe(8 + 10);
    expect(stalled.rttIntended.percentileNs(99)).toBeGreaterThan(90e6);
  });

  it('late by less than half an interval: sent late, lateness recorded, not missed', async () => {
    const { clock, stats, sends, send, waiter } = setup([0n, 4n * MS]);
    await runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, count: 3, send });
    expect(sends.map((s) => s.at)).toEqual([0n, 14n * MS, 20n * MS]);
    expect(stats.counts().missed).toBe(0);
    expect(stats.sendLateness.max).toBe(4e6);
    expect(stats.rttIntended.count).toBe(0);
  });

  it('duration bounds the slots; the drain declares unanswered probes lost after the timeout', async () => {
    const { clock, stats, sends, send, waiter } = setup([]);
    await runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, durationNs: 35n * MS, send });
    expect(sends).toHaveLength(4); // 0, 10, 20, 30 ms
    stats.reply(1, 12e6, 0);
    const d = drainReplies({ clock, stats, timeoutNs: 50n * MS, originNs: 0n, drain: true });
    for (let i = 0; i < 20; i++) await clock.advance(5);
    await d;
    expect(stats.counts()).toMatchObject({ sent: 4, received: 1, lost: 3, inFlight: 0 });
  });

  it('with a duration every planned slot is sent or missed exactly once, even if a stall runs past the end', async () => {
    // 10 slots (0..90 ms); slot 8 wakes 60 ms late: only slots 8 and 9 are of the run
    const { clock, stats, sends, send, waiter } = setup([0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 60n * MS]);
    await runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, durationNs: 100n * MS, send });
    expect(sends).toHaveLength(8);
    expect(stats.counts().missed).toBe(2);
  });

    it('abort stops sending at once', async () => {
    const { clock, stats, sends, send, waiter } = setup([]);
    const ac = new AbortController();
    const p = runSchedule({ clock, waiter, stats, intervalNs: 10n * MS, timeoutNs: 50n * MS, originNs: 0n, t0Ns: 0n, send, signal: ac.signal, onTick: () => { if (sends.length === 3) ac.abort(); } });
    await p;
    expect(sends).toHaveLength(3);
  });
});
