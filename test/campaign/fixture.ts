/** A CampaignResult built from real encoded HdrHistograms (microsecond units), for report tests. */
import * as hdr from 'hdr-histogram-js';
import { decodeHistogram, distributionFrom } from '../../campaign/histogram.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';
import { verdictOf, type CampaignResult, type ProbeResult, type StepResult } from '../../campaign/result.js';

const NO_LAT = { count: 0, min: null, p50: null, p90: null, p99: null, p999: null, max: null, mean: null, stddev: null };

/** A complete probe summary with neutral defaults for what a test does not set. */
export function summaryOf(x: Partial<ProbeSummary> & Pick<ProbeSummary, 'sent' | 'received' | 'lost'>): ProbeSummary {
  return {
    schemaVersion: 1, id: 'p1', probe: 'stamp', kind: 'stamp', target: '127.0.0.1:862', startedAtMs: 0, elapsedMs: 0, intervalMs: 20, timeoutMs: 1000,
    sizeBytes: 44, timer: 'hybrid', done: true, lossRatio: x.sent ? x.lost / x.sent : 0, late: 0, duplicates: 0, reordered: 0, missed: 0, stray: 0, inFlight: 0,
    rcvbufErrors: null, rttMs: NO_LAT, rttFromIntendedMs: NO_LAT, sendLatenessMs: NO_LAT, missedMaxLatenessMs: null, jitterMs: 0,
    ipdvMs: { count: 0, meanAbs: null, p50Abs: null, p99Abs: null, maxAbs: null, min: null, max: null }, pdvMs: { p50: null, p99: null, p999: null },
    reordering: { ratio: 0, meanExtent: 0, maxExtent: 0, extentBeyondWindow: 0, windowSize: 4096 }, direction: null, outages: [], outageCount: x.outages?.length ?? 0,
    outageTotalMs: (x.outages ?? []).reduce((a, o) => a + o.durationMs, 0), outageMinLost: 3, oneWayMs: null, currentLossRun: 0, precision: { rttSignificantDigits: 3, rttRelativeError: 0.001 },
    ...x,
  };
}

function probe(step: string, name: string, baseUs: number, spreadUs: number, n: number, t0: number): ProbeResult {
  const h = hdr.build();
  for (let i = 0; i < n; i++) h.recordValue(Math.round(baseUs + spreadUs * ((i * 7919) % 1000) / 1000));
  const encoded = hdr.encodeIntoCompressedBase64(h);
  const latency = distributionFrom(decodeHistogram(encoded, 1e-3));
  const ticks = Array.from({ length: 5 }, (_, i) => ({ tMs: t0 + (i + 1) * 1000, sent: 50, lost: i === 2 ? 10 : 0, p50Ms: baseUs / 1000, p99Ms: (baseUs + spreadUs) / 1000 }));
  return {
    step,
    name,
    from: 'site',
    to: '127.0.0.1:862',
    kind: 'stamp',
    intervalMs: 20,
    summary: summaryOf({
      sent: n + 10,
      received: n,
      lost: 10,
      rttMs: { count: n, min: baseUs / 1000, p50: latency.percentilesMs.p50, p90: latency.percentilesMs.p90, p99: latency.percentilesMs.p99, p999: latency.percentilesMs.p999, max: (baseUs + spreadUs) / 1000, mean: (baseUs + spreadUs / 2) / 1000, stddev: spreadUs / 3464 },
      jitterMs: spreadUs / 3000,
      outages: [{ startMs: t0 + 3000, endMs: t0 + 3200, durationMs: 180, lost: 10, boundMs: 20, firstLostSeq: 150, lastLostSeq: 159, openStart: false, openEnd: false, direction: null } as never],
    }),
    histogramNs: encoded,
    latency,
    ticks,
    conformance: [],
  };
}

/** `hookJunit`: the first step has a hook whose JUnit file had two cases, one failed (with markup). */
export function fixtureResult(opts: { failing?: boolean; stepError?: string; hookJunit?: boolean } = {}): CampaignResult {
  const t0 = 1_700_000_000_000;
  const steps: StepResult[] = ['fibre', 'lte <&> "edge"'].map((name, i) => {
    const start = t0 + i * 5000;
    const p = probe(name, 'to-dc', i === 0 ? 500 : 80_000, i === 0 ? 400 : 40_000, 240, start);
    return {
      name,
      plannedStartMs: start,
      startMs: start + 1,
      endMs: start + 5000,
      skewMs: { site: 1 },
      impairments: [{ name: 'uplink', agent: 'site', profile: name === 'fibre' ? 'fibre-business' : 'lte-cell-edge', applied: true, inEffect: true }],
      faults: [],
      probes: [p],
      hooks:
        opts.hookJunit && i === 0
          ? [{ step: name, name: 'pos-smoke', exitCode: 1, timedOut: false, durationMs: 1500, outputTail: '', junit: { tests: 2, failures: 1, errors: 0, skipped: 0, cases: [
              { name: 'sale completes', classname: 'pos.Checkout', failed: false },
              { name: 'refund <over> limit', classname: 'pos.Refund', failed: true, message: 'expected 402 & got 200' },
            ] } }]
          : [],
      assertions: [
        { step: name, scope: 'probe', target: 'to-dc', text: 'rtt.p99 < 250ms', passed: !(opts.failing && i === 1), actual: p.summary!.rttMs.p99!, message: `rtt.p99 = ${p.summary!.rttMs.p99} ms` },
        { step: name, scope: 'probe', target: 'to-dc', text: 'loss < 5%', passed: true, actual: 0.04, message: 'loss = 4%' },
        { step: name, scope: 'in-effect', target: 'uplink', text: 'uplink in effect', passed: true, actual: 1, message: 'in effect' },
      ],
      spans: [
        { kind: 'step', label: name, startMs: start, endMs: start + 5000 },
        { kind: 'outage', label: 'outage', startMs: start + 3000, endMs: start + 3200, owner: 'to-dc' },
        { kind: 'fault', label: 'link-down-0', startMs: start + 2990, endMs: start + 3100 },
        { kind: 'phase', label: 'uplink: congested', startMs: start + 1000, endMs: start + 2000, owner: 'uplink' },
      ],
      ...(opts.stepError && i === 1 ? { error: opts.stepError } : {}),
    };
  });
  return {
    campaign: 'fixture',
    description: 'report fixture',
    source: 'fixture.yaml',
    startedAtMs: t0,
    endedAtMs: t0 + 10_000,
    ...verdictOf(steps, undefined),
    agents: [{ name: 'site', url: 'http://127.0.0.1:9870', reachable: true, authorised: true, backends: ['relay'], clockOffsetMs: 0.1, clockUncertaintyMs: 0.05, problems: [] }],
    steps,
    reverts: [{ agent: 'site', impairment: 'uplink', ok: true }],
  };
}
