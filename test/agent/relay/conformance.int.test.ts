/**
 * Conformance of the UDP relay on loopback, at real packet rates (so timer error is part of what is
 * measured), against the installed iproute2 tables and the models' closed forms. Tolerances come
 * from the sample sizes (KS at alpha 0.001, binomial / Markov-chain bounds at ~4.4 sigma).
 */
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Impairment, Profile } from '../../../core/profile.js';
import { seededRandom } from '../../../core/random.js';
import { parseDistFile } from '../../../agent/relay/dist-tables.js';
import { tableDist } from '../../../agent/relay/stages/delay.js';
import { startRelay, type RelayHandle } from '../../../agent/relay/relay.js';
import { paceSend, paceSendTo, sleep, startSink } from './udp-support.js';
import { binomialBound, ks2, ksCritical, quantile } from './stats-support.js';

const TC_LIB_DIR = process.env['TC_LIB_DIR'] ?? '/usr/lib/x86_64-linux-gnu/tc';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function udpRelay(upstreamPort: number, egress: Impairment, seed = 1): Promise<RelayHandle> {
  const profile: Profile = { name: 'conf', description: 'conformance', egress };
  const r = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstreamPort}`, profile, seed });
  cleanups.push(() => r.stop());
  return r;
}

async function client(): Promise<Socket> {
  const c = createSocket('udp4');
  await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => c.close(() => r())));
  return c;
}

/** Send to two relays interleaved (even seq -> a, odd -> b) at `pps` each; send times by relay. */
async function paceTwo(c: Socket, portA: number, portB: number, n: number, pps: number): Promise<{ a: bigint[]; b: bigint[] }> {
  const all = await paceSendTo(c, (i) => (i % 2 === 0 ? portA : portB), 2 * n, 2 * pps);
  return { a: all.filter((_, i) => i % 2 === 0), b: all.filter((_, i) => i % 2 === 1) };
}

function installedTable(name: 'normal' | 'pareto'): Int16Array {
  const file = `${TC_LIB_DIR}/${name}.dist`;
  if (!existsSync(file)) throw new Error(`${file} is missing: install iproute2 (scripts/install-test-deps.sh) or set TC_LIB_DIR`);
  return parseDistFile(readFileSync(file, 'utf8'));
}

describe('UDP relay conformance (loopback, real packet rate)', () => {
  it.each(['normal', 'pareto'] as const)(
    'added delay follows the installed iproute2 %s table (n = 5000, 2.5 kpps, KS alpha 0.001 after the measured baseline)',
    async (dist) => {
      // A wide distribution keeps the shape test about the table, not about sub-ms timer noise:
      // the pareto table's density peaks at 2.25 / sigma per ms, so with sigma = 100 ms a 1 ms
      // difference between the two relays' timer lateness moves D by at most ~0.02.
      const muMs = 300;
      const sigmaMs = 100;
      const n = 5000;
      const sinkA = await startSink();
      const sinkB = await startSink();
      cleanups.push(() => sinkA.close(), () => sinkB.close());
      // A: fixed delay = the baseline (timer + loopback + event loop), measured in the same run.
      const relayA = await udpRelay(sinkA.port, { delayMs: muMs, limitPackets: 100_000 }, 3);
      const relayB = await udpRelay(sinkB.port, { delayMs: muMs, jitterMs: sigmaMs, distribution: dist, limitPackets: 100_000 }, 4);
      const c = await client();
      const sent = await paceTwo(c, relayA.listen.port, relayB.listen.port, n, 2500);
      await sleep(muMs + 4.1 * sigmaMs + 400);
      const delays = (got: { seq: number; tNs: bigint }[], times: bigint[]): number[] => got.map((g) => Number(g.tNs - times[g.seq >> 1]!) / 1e6);
      const dA = delays(sinkA.got, sent.a);
      const dB = delays(sinkB.got, sent.b);
      expect(dA.length).toBe(n);
      expect(dB.length).toBe(n);
      const lateness = dA.map((d) => d - muMs);
      // The relay never releases early: every fixed-delay packet took at least the delay.
      expect(Math.min(...dA)).toBeGreaterThanOrEqual(muMs - 0.001);
      // Reference: netem's lookup on the INSTALLED table (value = mu + t * sigma / 8192, integer
      // ns arithmetic), one uniform table index per packet, plus one baseline lateness sample.
      const table = installedTable(dist);
      const rng = seededRandom(12345);
      const ref = lateness.map((l) => tableDist(muMs * 1e6, sigmaMs * 1e6, rng.nextU32(), table) / 1e6 + l);
      const d = ks2(dB, ref);
      const crit = ksCritical(dB.length, ref.length);
      console.log(
        `${dist}: KS D=${d.toFixed(4)} (critical ${crit.toFixed(4)}), baseline lateness p50=${quantile(lateness, 0.5).toFixed(3)} ms p99=${quantile(lateness, 0.99).toFixed(3)} ms`,
      );
      expect(d).toBeLessThan(crit);
      // The test can fail: the same samples are far from the other distribution.
      const other = installedTable(dist === 'normal' ? 'pareto' : 'normal');
      const wrong = lateness.map((l) => tableDist(muMs * 1e6, sigmaMs * 1e6, rng.nextU32(), other) / 1e6 + l);
      expect(ks2(dB, wrong)).toBeGreaterThan(crit);
    },
    60_000,
  );

  it('random loss 10 % within a binomial bound (n = 5000 at 5 kpps)', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const r = await udpRelay(sink.port, { loss: { model: 'random', pct: 10 } });
    const c = await client();
    const n = 5000;
    await paceSend(c, r.listen.port, n, 5000);
    await sleep(100);
    const lost = n - sink.got.length;
    expect(Math.abs(lost - n * 0.1)).toBeLessThan(binomialBound(n, 0.1));
    expect(r.stats().egress.drops.loss).toBe(lost);
  });

  it('Gilbert-Elliott: mean loss and mean burst length within burst-adjusted bounds (n = 10000)', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const [p, rr] = [0.03, 0.25];
    const r = await udpRelay(sink.port, { loss: { model: 'gilbert-elliott', pPct: p * 100, rPct: rr * 100, oneMinusHPct: 100, oneMinusKPct: 0 } });
    const c = await client();
    const n = 10_000;
    await paceSend(c, r.listen.port, n, 5000);
    await sleep(100);
    const got = new Set(sink.got.map((g) => g.seq));
    const lostSeq = Array.from({ length: n }, (_, i) => !got.has(i));
    const k = lostSeq.filter(Boolean).length;
    const pi = p / (p + rr);
    const lambda = 1 - p - rr;
    const sd = Math.sqrt((n * pi * (1 - pi) * (1 + lambda)) / (1 - lambda));
    expect(Math.abs(k - n * pi)).toBeLessThan(4.4 * sd);
    const bursts: number[] = [];
    let run = 0;
    for (const l of lostSeq) {
      if (l) run++;
      else if (run) {
        bursts.push(run);
        run = 0;
      }
    }
    const mean = bursts.reduce((a, b) => a + b, 0) / bursts.length;
    expect(Math.abs(mean - 1 / rr)).toBeLessThan((4.4 * Math.sqrt(1 - rr)) / rr / Math.sqrt(bursts.length));
  });

  it('duplicate 5 % and reorder 20 % (gap 1) at their configured rates', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const delayMs = 60;
    const r = await udpRelay(sink.port, { delayMs, duplicatePct: 5, reorderPct: 20 });
    const c = await client();
    const n = 5000;
    const sent = await paceSend(c, r.listen.port, n, 5000);
    await sleep(delayMs + 200);
    const count = new Map<number, number>();
    for (const g of sink.got) count.set(g.seq, (count.get(g.seq) ?? 0) + 1);
    const dups = [...count.values()].filter((v) => v > 1).length;
    expect(count.size).toBe(n);
    expect(Math.abs(dups - n * 0.05)).toBeLessThan(binomialBound(n, 0.05));
    // A reordered packet goes out at once: it arrives well before the delay (copies counted once:
    // netem decides reorder per copy, so count first arrivals of originals only).
    const first = new Map<number, bigint>();
    for (const g of sink.got) if (!first.has(g.seq)) first.set(g.seq, g.tNs);
    let early = 0;
    for (const [seq, t] of first) if (Number(t - sent[seq]!) / 1e6 < delayMs / 2) early++;
    // P(first copy early) = 1 - (1-q)^copies; with 5 % duplicates: q (1 + 0.05 (1 - q)).
    const q = 0.2;
    const pEarly = q + 0.05 * (1 - q) * q;
    console.log(`reorder: early ${early} of ${n} (expected ${(n * pEarly).toFixed(0)}); duplicates ${dups}`);
    expect(Math.abs(early - n * pEarly)).toBeLessThan(binomialBound(n, pEarly));
    expect(r.stats().egress.duplicates).toBe(dups);
  });

  it('rate within 5 % with queue-limit drops accounted (8 Mbit/s, offered 1.6x)', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const rateKbit = 8000;
    const size = 1000;
    const wire = size + 28 + 14;
    // The queue (500 packets = 0.52 s at this rate) rides out sender stalls on a busy machine, so the
    // link never idles while the offered load exceeds it.
    const r = await udpRelay(sink.port, { rateKbit, limitPackets: 500 });
    const c = await client();
    const capacityPps = (rateKbit * 1000) / 8 / wire;
    const n = Math.round(capacityPps * 1.6 * 2); // 2 s of offered load
    await paceSend(c, r.listen.port, n, capacityPps * 1.6, size);
    await sleep(500 * (1000 / capacityPps) + 300);
    const s = r.stats().egress;
    expect(s.packetsIn).toBe(n);
    expect(s.packetsOut + (s.drops.queue ?? 0)).toBe(n);
    expect(s.drops.queue ?? 0).toBeGreaterThan(0);
    expect(sink.got.length).toBe(s.packetsOut);
    // Delivered rate over the saturated stretch (first to last arrival).
    const t0 = sink.got[0]!.tNs;
    const t1 = sink.got[sink.got.length - 1]!.tNs;
    const kbit = ((sink.got.length - 1) * wire * 8) / (Number(t1 - t0) / 1e9) / 1000;
    console.log(`rate: delivered ${kbit.toFixed(0)} kbit/s of ${rateKbit}; queue drops ${s.drops.queue}`);
    expect(Math.abs(kbit - rateKbit) / rateKbit).toBeLessThan(0.05);
  });
});
