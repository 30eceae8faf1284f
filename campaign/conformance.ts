/**
 * Conformance: does the path a probe crossed behave like the profile says it should? Compares the
 * probe's measurement with what the profile produces and flags an impairment that is not in effect
 * or deviates beyond a stated tolerance. Pure.
 *
 * Expected round-trip effect of a profile on a probe crossing the impaired interface:
 *   added delay (median)  de + di + serialization(bytes x 8 / rateKbit, per direction)
 *   added spread (stddev) sqrt(se^2 + si^2), s = jitter (normal, pareto, paretonormal: netem's
 *                         tables are scaled in units of sigma) or jitter/sqrt(3) (uniform)
 *   loss (round trip)     1 - (1 - le)(1 - li); random: pct; Gilbert-Elliott: pi_bad(1-h) + pi_good(1-k)
 *                         with pi_bad = p/(p+r)
 *
 * Tolerances (z = 5.3: a correct impairment is flagged with probability ~1e-7 per check, so a
 * release gate of many steps and checks does not cry wolf), all derived
 * from the sample size n (replies) and the measurement resolution res per direction (the campaign
 * passes 1 ms of timestamp/timer granularity plus the probe's measured send lateness p90: a loaded
 * host fires the impairing relay's timers late just as it does the probe's):
 *   delay   z x 1.2533 x s_rtt / sqrt(n)    (standard error of a median; s_rtt is the MEASURED spread:
 *           IQR/1.349 when the histogram is known, else the standard deviation) + 2 x res + baseline spread (p90 - p50 of the baseline)
 *           + 0.5 x s for pareto-family tables (their median is not their mean)
 *           + jitter when packets are kept in order (order: keep, or a rate) and jitter exceeds the probe interval
 *             (in-order release delays packets behind slower ones)
 *   jitter  measured spread (IQR/1.349 from the histogram, robust to scheduling outliers on a loaded
 *           host; else stddev) minus the baseline's, in quadrature, vs s:
 *           z x se x k (k = 1 normal/uniform, 3 pareto-family: heavy tails) + res, with se the standard
 *           error of the estimator used: 1.166 s / sqrt(n) for IQR/1.349 (a normal's quartiles), else
 *           s / sqrt(2(n-1)) for the standard deviation;
 *           pareto-family lower bound halved (their IQR is narrower than their sigma);
 *           delay correlation c lowers the floor to s x sqrt((1-c)/(1+c)) (netem's mixing shrinks it)
 *   loss    z x sqrt(p(1-p) x f / n) + (z^2 - 1) / 6 x f / n + 1/n, f = variance
 *           inflation of bursty loss: (1+c)/(1-c) for correlated random loss, (1+L)/(1-L) with
 *           L = 1-p-r for Gilbert-Elliott; the second term is the Cornish-Fisher skew correction (a
 *           loss count is skewed to the right: with few expected losses, or bursts, the normal bound
 *           alone is crossed 10-1000x more often than z says; kappa3/kappa2 is 1 for a binomial and
 *           grows with the bursts, taken as f); checked against the exact distribution of the
 *           Gilbert-Elliott count (bursts of 2-10, n 250-10000): at most ~1e-6 above, none below;
 *           plus the baseline's own loss
 *   rate    seen only through serialization delay: checked as part of delay; 'unverifiable' when
 *           the serialization time of a probe packet is below the resolution
 * 'not-in-effect' = a deviation where the expected effect exceeds its tolerance and the measured one
 * is within the tolerance of zero. Scheduled profiles: the measurement mixes phases, so delay and loss must lie
 * within [min, max] over the phases (plus tolerance); jitter is not checked.
 */
import type { Impairment, ImpairmentPatch, Profile } from '../core/profile.js';
import { applyPatch } from '../core/schedule.js';

export const Z = 5.3;

/** Standard error of IQR/1.349 as an estimate of a normal's sigma, in units of sigma x sqrt(n). */
export const IQR_SIGMA_SE = 1.166;

export interface ConformanceMeasurement {
  sent: number;
  received: number;
  /** RTT statistics in ms. */
  rttMs: { p50: number; p90?: number; stddev: number };
  /** Robust spread (IQR / 1.349), used instead of stddev when known: a few scheduling outliers
   *  on a loaded host inflate a standard deviation but not the interquartile range. */
  spreadMs?: number;
}

export interface ConformanceInput {
  profile: Profile;
  direction: 'egress' | 'ingress' | 'both';
  measured: ConformanceMeasurement;
  /** The same path without impairment (pre-flight), if measured. */
  baseline?: ConformanceMeasurement;
  /** Resolution per direction in ms (probe timestamps + backend timer). */
  resolutionMs: number;
  /** Probe packet size on the wire in bytes (for serialization delay). */
  packetBytes: number;
  probeIntervalMs: number;
}

export type CheckStatus = 'ok' | 'deviation' | 'not-in-effect' | 'unverifiable';

export interface ConformanceCheck {
  quantity: 'delay' | 'jitter' | 'loss' | 'rate';
  status: CheckStatus;
  /** Expected value (ms for delay/jitter, fraction for loss); a [min, max] range for schedules. */
  expected: number | [number, number] | null;
  measured: number | null;
  toleranceMs?: number;
  tolerance?: number;
  note: string;
}

export interface ConformanceResult {
  ok: boolean;
  checks: ConformanceCheck[];
}

interface DirEffect {
  delayMs: number;
  sigmaMs: number;
  heavyTail: boolean;
  correlation: number;
  loss: number | null;
  lossInflation: number;
  serializationMs: number;
  rateKbit?: number;
  /** Packets leave in order: order: keep, or a rate in the relay (netem keeps order under its rate). */
  keepsOrder: boolean;
}

function directionEffect(imp: Impairment | undefined, packetBytes: number): DirEffect {
  const i = imp ?? {};
  const jitter = i.jitterMs ?? 0;
  const dist = i.distribution ?? 'normal';
  const sigma = dist === 'uniform' ? jitter / Math.sqrt(3) : jitter;
  let loss: number | null = 0;
  let inflation = 1;
  if (i.loss?.model === 'random') {
    loss = i.loss.pct / 100;
    const c = (i.loss.correlationPct ?? 0) / 100;
    inflation = c < 1 ? (1 + c) / (1 - c) : Number.POSITIVE_INFINITY;
  } else if (i.loss?.model === 'gilbert-elliott') {
    const p = i.loss.pPct / 100;
    const r = i.loss.rPct / 100;
    const piBad = p + r > 0 ? p / (p + r) : 0;
    loss = piBad * ((i.loss.oneMinusHPct ?? 100) / 100) + (1 - piBad) * ((i.loss.oneMinusKPct ?? 0) / 100);
    const lambda = Math.max(0, 1 - p - r);
    inflation = lambda < 1 ? (1 + lambda) / (1 - lambda) : Number.POSITIVE_INFINITY;
  } else if (i.loss?.model === '4-state') {
    loss = null;
  }
  const serializationMs = i.rateKbit ? (packetBytes * 8) / i.rateKbit : 0;
  return {
    delayMs: i.delayMs ?? 0,
    sigmaMs: sigma,
    heavyTail: jitter > 0 && (dist === 'pareto' || dist === 'paretonormal'),
    correlation: (i.delayCorrelationPct ?? 0) / 100,
    loss,
    lossInflation: inflation,
    serializationMs,
    ...(i.rateKbit ? { rateKbit: i.rateKbit } : {}),
    keepsOrder: i.keepOrder === true || i.rateKbit !== undefined,
  };
}

/** Both directions of a round trip combined (the rate applies per direction, not to the path). */
type PathEffect = Omit<DirEffect, 'rateKbit' | 'keepsOrder'> & { inOrderJitter: boolean };

function merge(base: Impairment | undefined, over: ImpairmentPatch | undefined): Impairment | undefined {
  if (!base && !over) return undefined;
  return applyPatch(base ?? {}, over);
}

/** The round-trip effect of one set of impairments on a probe crossing both directions. */
function pathEffect(egress: Impairment | undefined, ingress: Impairment | undefined, dir: ConformanceInput['direction'], bytes: number, intervalMs: number): PathEffect {
  const parts = [dir !== 'ingress' ? directionEffect(egress, bytes) : null, dir !== 'egress' ? directionEffect(ingress, bytes) : null].filter(
    (x): x is DirEffect => x !== null,
  );
  const losses = parts.map((p) => p.loss);
  const loss = losses.some((l) => l === null) ? null : 1 - parts.reduce((acc, p) => acc * (1 - (p.loss as number)), 1);
  return {
    delayMs: parts.reduce((a, p) => a + p.delayMs + p.serializationMs, 0),
    sigmaMs: Math.sqrt(parts.reduce((a, p) => a + p.sigmaMs ** 2, 0)),
    heavyTail: parts.some((p) => p.heavyTail),
    correlation: Math.max(0, ...parts.map((p) => p.correlation)),
    loss,
    lossInflation: Math.max(1, ...parts.map((p) => p.lossInflation)),
    serializationMs: parts.reduce((a, p) => a + p.serializationMs, 0),
    inOrderJitter: parts.some((p) => p.keepsOrder && p.sigmaMs > intervalMs / 2),
  };
}

/** Compare a probe's measurement with the profile's expected effect. */
export function checkConformance(input: ConformanceInput): ConformanceResult {
  const { profile, measured, baseline } = input;
  const n = measured.received;
  const res = input.resolutionMs;
  const checks: ConformanceCheck[] = [];
  if (n < 2) {
    return {
      ok: false,
      checks: [{ quantity: 'delay', status: 'deviation', expected: null, measured: null, note: `only ${n} replies: the path carries no traffic` }],
    };
  }
  const baseP50 = baseline?.rttMs.p50 ?? 0;
  const baseSpread = baseline ? Math.max(0, (baseline.rttMs.p90 ?? baseline.rttMs.p50) - baseline.rttMs.p50) : 0;
  const baseSigma = baseline ? (baseline.spreadMs ?? baseline.rttMs.stddev) : 0;
  const spread = measured.spreadMs ?? measured.rttMs.stddev;
  const baseLoss = baseline && baseline.sent > 0 ? 1 - baseline.received / baseline.sent : 0;
  const addedDelay = measured.rttMs.p50 - baseP50;
  const measuredLoss = measured.sent > 0 ? 1 - measured.received / measured.sent : 0;

  const effects = profile.schedule
    ? profile.schedule.phases.map((ph) =>
        pathEffect(merge(profile.egress, ph.egress), merge(profile.ingress, ph.ingress), input.direction, input.packetBytes, input.probeIntervalMs),
      )
    : [pathEffect(profile.egress, profile.ingress, input.direction, input.packetBytes, input.probeIntervalMs)];
  if (profile.schedule && profile.schedule.loop === false) {
    effects.push(pathEffect(profile.egress, profile.ingress, input.direction, input.packetBytes, input.probeIntervalMs));
  }
  const single = effects.length === 1 ? (effects[0] as PathEffect) : null;

  // Delay.
  const seMedian = (1.2533 * spread) / Math.sqrt(n);
  let delayTol = Z * seMedian + 2 * res + baseSpread;
  if (effects.some((e) => e.heavyTail)) delayTol += 0.5 * Math.max(...effects.map((e) => e.sigmaMs));
  const inOrder = effects.some((e) => e.inOrderJitter);
  if (inOrder) delayTol += Math.max(...effects.map((e) => e.sigmaMs));
  const lo = Math.min(...effects.map((e) => e.delayMs));
  const hi = Math.max(...effects.map((e) => e.delayMs));
  const expectedDelay: number | [number, number] = lo === hi ? lo : [lo, hi];
  let delayStatus: CheckStatus = 'ok';
  if (addedDelay < lo - delayTol || addedDelay > hi + delayTol) delayStatus = 'deviation';
  if (delayStatus === 'deviation' && lo > delayTol && Math.abs(addedDelay) <= delayTol) delayStatus = 'not-in-effect';
  checks.push({
    quantity: 'delay',
    status: delayStatus,
    expected: expectedDelay,
    measured: addedDelay,
    toleranceMs: delayTol,
    note: `added RTT median (measured p50 ${measured.rttMs.p50.toFixed(2)} ms${baseline ? ` - baseline ${baseP50.toFixed(2)} ms` : ', no baseline'})${inOrder ? '; in-order release widens the bound by the jitter' : ''}`,
  });

  // Jitter (unscheduled only).
  if (single) {
    const measuredSigma = Math.sqrt(Math.max(0, spread ** 2 - baseSigma ** 2));
    const k = single.heavyTail ? 3 : 1;
    const se = measured.spreadMs !== undefined ? IQR_SIGMA_SE / Math.sqrt(n) : 1 / Math.sqrt(2 * (n - 1));
    const jitTol = Z * Math.max(single.sigmaMs, measuredSigma) * k * se + res + baseSpread;
    // Heavy tails: the IQR of a pareto-family table is narrower than its sigma; allow half.
    const floor = single.sigmaMs * Math.sqrt((1 - single.correlation) / (1 + single.correlation)) * (single.heavyTail && measured.spreadMs !== undefined ? 0.5 : 1);
    let status: CheckStatus = 'ok';
    let note = 'added RTT standard deviation';
    if (inOrder) {
      status = 'unverifiable';
      note = 'packets are kept in order (order: keep or a rate), which reshapes the jitter distribution';
    } else if (single.sigmaMs <= res && measuredSigma <= res + jitTol) {
      status = single.sigmaMs === 0 ? 'ok' : 'unverifiable';
      if (single.sigmaMs > 0) note = 'configured jitter is below the measurement resolution';
    } else if (measuredSigma < floor - jitTol || measuredSigma > single.sigmaMs + jitTol) {
      status = single.sigmaMs > jitTol && measuredSigma <= jitTol ? 'not-in-effect' : 'deviation';
    }
    checks.push({ quantity: 'jitter', status, expected: single.sigmaMs, measured: measuredSigma, toleranceMs: jitTol, note });
  }

  // Loss.
  const losses = effects.map((e) => e.loss);
  if (losses.some((l) => l === null)) {
    checks.push({ quantity: 'loss', status: 'unverifiable', expected: null, measured: measuredLoss, note: '4-state loss: no closed-form expectation checked' });
  } else {
    const ls = losses as number[];
    const lLo = Math.min(...ls);
    const lHi = Math.max(...ls);
    const inflation = Math.max(...effects.map((e) => e.lossInflation));
    const pv = Math.min(Math.max(lHi, 1 / n), 1 - 1 / n);
    const f = Number.isFinite(inflation) ? inflation : n;
    const lossTol = Z * Math.sqrt((pv * (1 - pv) * f) / n) + ((Z * Z - 1) / 6) * f / n + 1 / n + baseLoss;
    let status: CheckStatus = 'ok';
    if (measuredLoss < lLo - lossTol || measuredLoss > lHi + lossTol) status = 'deviation';
    if (status === 'deviation' && lLo > lossTol && measuredLoss <= lossTol) status = 'not-in-effect';
    checks.push({ quantity: 'loss', status, expected: lLo === lHi ? lLo : [lLo, lHi], measured: measuredLoss, tolerance: lossTol, note: 'round-trip loss ratio' });
  }

  // Rate (through serialization delay only).
  const ser = Math.max(...effects.map((e) => e.serializationMs));
  if (ser > 0) {
    const verifiable = ser > 2 * res;
    checks.push({
      quantity: 'rate',
      status: verifiable ? delayStatus : 'unverifiable',
      expected: ser,
      measured: null,
      note: verifiable
        ? 'serialization delay of a probe packet, checked within the delay'
        : `serialization of a ${input.packetBytes}-byte probe (${ser.toFixed(3)} ms) is below the resolution; use a throughput test`,
    });
  }

  return { ok: checks.every((c) => c.status === 'ok' || c.status === 'unverifiable'), checks };
}
