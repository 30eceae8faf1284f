/**
 * The exact-revert arguments for a foreign tbf, from raw dumps captured from real tc for
 * hand-written tbf commands (test/fixtures/tc/COMMANDS.md, tbf-raw-N.json). Expected values come
 * from the typed commands: the burst found must be the one typed (or, at rates where several byte
 * counts give the same 64 ns buffer, one of those), the rate and limit the kernel's exact ones.
 * The privileged test (netem-backend.priv.test.ts) checks the same on a real tbf, byte for byte.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { burstCandidates, l2tNs, planTbfRevert } from '../../../agent/netem/tbf-revert.js';
import { parseQdiscs } from '../../../agent/netem/tc-json.js';

const raw = (n: number): Record<string, unknown> => {
  const q = parseQdiscs(readFileSync(new URL(`../../fixtures/tc/tbf-raw-${n}.json`, import.meta.url), 'utf8'))[0];
  if (!q) throw new Error(`no qdisc in tbf-raw-${n}.json`);
  return q.options;
};

describe('planTbfRevert on real raw dumps', () => {
  it.each([
    // typed: rate 1mbit burst 32kb latency 50ms (limit = 125000 * 0.05 + 32768 = 39018)
    [1, ['rate', '125000bps', 'burst', '32768', 'limit', '39018']],
    // typed: rate 7777777bit burst 12345 limit 100000 (tc stores 7777777 / 8 truncated)
    [2, ['rate', '972222bps', 'burst', '12345', 'limit', '100000']],
    // typed: rate 300mbit burst 200000 latency 5ms overhead 24 mpu 64
    [3, ['rate', '37500000bps', 'burst', '200000', 'limit', '387500', 'mpu', '64', 'overhead', '24']],
  ])('tbf-raw-%i.json -> the typed parameters', (n, args) => {
    expect(planTbfRevert(raw(n))).toEqual({ exact: true, args, limitBytes: Number(args[5]) });
  });

  it('ATM: every byte count within one 48-byte cell gives the same buffer; the typed one is among them', () => {
    const o = raw(4); // rate 2mbit burst 20000 latency 30ms linklayer atm overhead 10
    const c = burstCandidates(250000, Number.parseInt(String(o['burst_raw']), 16), 10, 0, true);
    expect(c).toContain(20000);
    expect(c[0]).toBe(20000); // the roundest first
    expect(Math.max(...c) - Math.min(...c)).toBeLessThan(48);
    expect(planTbfRevert(o)).toEqual({ exact: true, args: ['rate', '250000bps', 'burst', '20000', 'limit', '27500', 'overhead', '10', 'linklayer', 'atm'], limitBytes: 27500 });
  });

  it('a 64-bit rate (50gbit): the typed burst maps to the same ticks; every candidate is within one tick', () => {
    const o = raw(5); // rate 50gbit burst 1mb latency 10ms
    const ticks = Number.parseInt(String(o['burst_raw']), 16);
    const c = burstCandidates(6250000000, ticks, 0, 0, false);
    expect(c).toContain(1048576);
    // one 64 ns tick at 6.25e9 B/s is 400 bytes
    expect(c.length).toBeLessThanOrEqual(401);
    const r = planTbfRevert(o);
    if (!r.exact) throw new Error(`expected an exact revert, got: ${r.reason}`);
    expect(r.args.slice(0, 3)).toEqual(['rate', '6250000000bps', 'burst']);
    expect(r.args.slice(4)).toEqual(['limit', '63548576']);
    expect(c).toContain(Number(r.args[3]));
  });

  it('a peakrate falls back to the bfifo (tc prints the peak rate rounded, and not at all in JSON)', () => {
    expect(planTbfRevert(raw(6))).toEqual({ exact: false, reason: expect.stringMatching(/peakrate/), limitBytes: 11908 });
  });

  it('a buffer no byte count maps to (set in ticks through netlink) falls back', () => {
    // at 125000 B/s one byte is 125 ticks: 0x3e8001 is one tick past 32768 bytes
    expect(planTbfRevert({ ...raw(1), burst_raw: '3e8001' })).toMatchObject({ exact: false, reason: expect.stringMatching(/no burst/) });
  });

  it('limit 0 (tbf had no child: noop): exact with nothing to change', () => {
    expect(planTbfRevert({ ...raw(1), limit: 0 })).toEqual({ exact: true, args: [], limitBytes: 0 });
  });

  it('a dump without the raw fields falls back', () => {
    expect(planTbfRevert({ rate: 125000, burst: 32768, lat: 50000 })).toMatchObject({ exact: false });
  });
});

describe('l2tNs (the kernel psched_l2t_ns)', () => {
  it('1500 bytes at 125000 B/s take 12 ms (within the mult/shift rounding)', () => {
    const ns = Number(l2tNs(125000n, 0, 0, false)(1500));
    expect(Math.abs(ns - 12_000_000)).toBeLessThanOrEqual(1);
  });
  it('applies overhead, mpu and ATM cells', () => {
    const f = l2tNs(1_000_000n, 0, 0, false);
    expect(l2tNs(1_000_000n, 24, 0, false)(100)).toBe(f(124));
    expect(l2tNs(1_000_000n, 0, 64, false)(10)).toBe(f(64));
    expect(l2tNs(1_000_000n, 0, 0, true)(49)).toBe(f(106)); // 2 cells of 53
  });
});
