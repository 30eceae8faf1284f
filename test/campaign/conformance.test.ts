import { describe, expect, it } from 'vitest';
import { seededRandom, type Random } from '../../core/random.js';
import type { Profile } from '../../core/profile.js';
import { checkConformance, Z, type ConformanceMeasurement } from '../../campaign/conformance.js';

const prof = (p: Partial<Profile>): Profile => ({ name: 't', description: '', egress: {}, ...p });

function normal(r: Random): number {
  // Box-Muller
  const u = Math.max(r.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next());
}

/** Simulate a probe over a path: base RTT plus per-direction normal delay, Bernoulli loss. */
function simulate(r: Random, n: number, opts: { baseMs: number; delayMs: number[]; sigmaMs: number[]; loss: number }): ConformanceMeasurement {
  const rtts: number[] = [];
  for (let i = 0; i < n; i++) {
    if (r.next() < opts.loss) continue;
    let rtt = opts.baseMs + 0.05 * Math.abs(normal(r));
    opts.delayMs.forEach((d, k) => {
      rtt += Math.max(0, d + (opts.sigmaMs[k] ?? 0) * normal(r));
    });
    rtts.push(rtt);
  }
  rtts.sort((a, b) => a - b);
  const mean = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  const sd = Math.sqrt(rtts.reduce((a, b) => a + (b - mean) ** 2, 0) / (rtts.length - 1));
  const q = (p: number): number => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))] as number;
  return { sent: n, received: rtts.length, rttMs: { p50: q(0.5), p90: q(0.9), stddev: sd } };
}

const common = { direction: 'both' as const, resolutionMs: 1, packetBytes: 44, probeIntervalMs: 20 };
const lte = prof({ egress: { delayMs: 70, jitterMs: 10, distribution: 'normal', loss: { model: 'random', pct: 2 } }, ingress: { delayMs: 90, jitterMs: 10, distribution: 'normal' } });

describe('checkConformance', () => {
  it('a correctly applied profile passes (100 seeded runs, none flagged)', () => {
    let flagged = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const r = seededRandom(seed);
      const baseline = simulate(r, 500, { baseMs: 0.2, delayMs: [], sigmaMs: [], loss: 0 });
      const measured = simulate(r, 2000, { baseMs: 0.2, delayMs: [70, 90], sigmaMs: [10, 10], loss: 0.02 });
      const res = checkConformance({ ...common, profile: lte, measured, baseline });
      if (!res.ok) flagged++;
    }
    expect(flagged).toBe(0);
  });

  it('flags an impairment that is not in effect', () => {
    const r = seededRandom(7);
    const measured = simulate(r, 2000, { baseMs: 0.2, delayMs: [], sigmaMs: [], loss: 0 });
    const res = checkConformance({ ...common, profile: lte, measured });
    expect(res.ok).toBe(false);
    const by = Object.fromEntries(res.checks.map((c) => [c.quantity, c.status]));
    expect(by).toEqual({ delay: 'not-in-effect', jitter: 'not-in-effect', loss: 'not-in-effect' });
  });

  it('flags a delay beyond tolerance, names expected and measured', () => {
    const r = seededRandom(9);
    const measured = simulate(r, 2000, { baseMs: 0.2, delayMs: [70, 120], sigmaMs: [10, 10], loss: 0.02 });
    const res = checkConformance({ ...common, profile: lte, measured });
    const delay = res.checks.find((c) => c.quantity === 'delay')!;
    expect(delay.status).toBe('deviation');
    expect(delay.expected).toBe(160);
    expect(delay.measured).toBeGreaterThan(185);
    expect(res.ok).toBe(false);
  });

  it('flags loss outside the binomial bound, and a jitter twice the configured one', () => {
    const r = seededRandom(11);
    const lossy = simulate(r, 5000, { baseMs: 0.2, delayMs: [70, 90], sigmaMs: [10, 10], loss: 0.06 });
    expect(checkConformance({ ...common, profile: lte, measured: lossy }).checks.find((c) => c.quantity === 'loss')!.status).toBe('deviation');
    const jittery = simulate(r, 5000, { baseMs: 0.2, delayMs: [70, 90], sigmaMs: [20, 20], loss: 0.02 });
    expect(checkConformance({ ...common, profile: lte, measured: jittery }).checks.find((c) => c.quantity === 'jitter')!.status).toBe('deviation');
  });

  it('loss tolerance follows sample size: z * sqrt(p(1-p)/n) + (z^2 - 1)/(6n) + 1/n', () => {
    const p = prof({ egress: { loss: { model: 'random', pct: 10 } } });
    const m = (sent: number, received: number): ConformanceMeasurement => ({ sent, received, rttMs: { p50: 1, stddev: 0.1 } });
    const tol = (n: number): number => Z * Math.sqrt((0.1 * 0.9) / n) + (Z * Z - 1) / 6 / n + 1 / n;
    const loss = (meas: ConformanceMeasurement) => checkConformance({ ...common, direction: 'egress', profile: p, measured: meas }).checks.find((c) => c.quantity === 'loss')!;
    expect(loss(m(10_000, 9000)).tolerance).toBeCloseTo(tol(9000), 9);
    // 13% loss over 10000 probes is > 0.1 + tol -> deviation; over 100 probes it is within.
    expect(loss(m(10_000, 8700)).status).toBe('deviation');
    expect(loss(m(100, 87)).status).toBe('ok');
  });

  it('Gilbert-Elliott: expected mean loss pi_bad(1-h) + pi_good(1-k), burst-inflated tolerance', () => {
    const p = prof({ egress: { loss: { model: 'gilbert-elliott', pPct: 0.5, rPct: 20, oneMinusHPct: 80, oneMinusKPct: 0.1 } } });
    const c = checkConformance({ ...common, direction: 'egress', profile: p, measured: { sent: 10_000, received: 9800, rttMs: { p50: 1, stddev: 0.1 } } }).checks.find(
      (x) => x.quantity === 'loss',
    )!;
    const piBad = 0.005 / 0.205;
    expect(c.expected).toBeCloseTo(piBad * 0.8 + (1 - piBad) * 0.001, 12);
    expect(c.status).toBe('ok');
    const lambda = 1 - 0.005 - 0.2;
    const pv = c.expected as number;
    const f = (1 + lambda) / (1 - lambda);
    expect(c.tolerance).toBeCloseTo(Z * Math.sqrt((pv * (1 - pv) * f) / 9800) + ((Z * Z - 1) / 6) * f / 9800 + 1 / 9800, 9);
  });

  it('direction: egress-only impairment expects only the egress delay', () => {
    const m: ConformanceMeasurement = { sent: 1000, received: 1000, rttMs: { p50: 70.3, stddev: 10 } };
    const res = checkConformance({ ...common, direction: 'egress', profile: lte, measured: m, baseline: { sent: 100, received: 100, rttMs: { p50: 0.2, p90: 0.3, stddev: 0.05 } } });
    expect(res.checks.find((c) => c.quantity === 'delay')).toMatchObject({ status: 'ok', expected: 70 });
  });

  it('rate: serialization delay counted when above the resolution, else unverifiable', () => {
    const slow = prof({ egress: { rateKbit: 100 } }); // 1000-byte probe: 80 ms
    const m: ConformanceMeasurement = { sent: 1000, received: 1000, rttMs: { p50: 80.2, stddev: 0.1 } };
    const res = checkConformance({ ...common, direction: 'egress', packetBytes: 1000, profile: slow, measured: m });
    expect(res.checks.find((c) => c.quantity === 'delay')).toMatchObject({ status: 'ok', expected: 80 });
    expect(res.checks.find((c) => c.quantity === 'rate')!.status).toBe('ok');
    const fast = prof({ egress: { rateKbit: 500_000 } });
    const r2 = checkConformance({ ...common, direction: 'egress', profile: fast, measured: { sent: 100, received: 100, rttMs: { p50: 0.2, stddev: 0.05 } } });
    expect(r2.checks.find((c) => c.quantity === 'rate')!.status).toBe('unverifiable');
    expect(r2.ok).toBe(true);
  });

  it('scheduled profile: measured delay must lie within the phases\' range', () => {
    const leo = prof({
      egress: { delayMs: 14 },
      ingress: { delayMs: 14 },
      schedule: { loop: true, phases: [{ durationMs: 14_000 }, { durationMs: 1000, egress: { delayMs: 40 }, ingress: { delayMs: 40 } }] },
    });
    const inRange = checkConformance({ ...common, profile: leo, measured: { sent: 3000, received: 3000, rttMs: { p50: 28.5, stddev: 5 } } });
    expect(inRange.checks.find((c) => c.quantity === 'delay')).toMatchObject({ status: 'ok', expected: [28, 80] });
    expect(inRange.checks.some((c) => c.quantity === 'jitter')).toBe(false);
    const none = checkConformance({ ...common, profile: leo, measured: { sent: 3000, received: 3000, rttMs: { p50: 0.3, stddev: 0.1 } } });
    expect(none.checks.find((c) => c.quantity === 'delay')!.status).toBe('not-in-effect');
  });

  it('order: keep with jitter above half the probe interval: delay bound widened by the jitter, jitter unverifiable', () => {
    const base = { delayMs: 70, jitterMs: 40, distribution: 'normal' as const };
    // Head-of-line blocking pushes the median up by a fraction of the jitter.
    const m: ConformanceMeasurement = { sent: 2000, received: 2000, rttMs: { p50: 95, stddev: 25 } };
    const kept = checkConformance({ ...common, direction: 'egress', profile: prof({ egress: { ...base, keepOrder: true } }), measured: m });
    expect(kept.checks.find((c) => c.quantity === 'delay')).toMatchObject({ status: 'ok', expected: 70 });
    expect(kept.checks.find((c) => c.quantity === 'delay')!.note).toMatch(/in-order release widens the bound/);
    expect(kept.checks.find((c) => c.quantity === 'jitter')!.status).toBe('unverifiable');
    const free = checkConformance({ ...common, direction: 'egress', profile: prof({ egress: base }), measured: m });
    expect(free.checks.find((c) => c.quantity === 'delay')!.status).toBe('deviation');
  });

  it('no replies at all is a deviation, not a pass', () => {
    const res = checkConformance({ ...common, profile: lte, measured: { sent: 100, received: 0, rttMs: { p50: 0, stddev: 0 } } });
    expect(res.ok).toBe(false);
  });
});
