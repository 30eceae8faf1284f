/**
 * Turn what a step measured into its verdicts. Pure: the runner gathers the measurements (probe
 * summaries and histograms, phase records, fault times, hook results, PromQL values, in-effect
 * reads) and this builds the step's probes, assertions and timeline spans.
 *
 * Per probe:
 *   - latency distribution from the encoded HdrHistogram (ns)
 *   - failover analysis: outage windows vs the step's faults (required events; a flap is one event
 *     per down period, faultEvents) and the phases of
 *     the impairments it crosses (phases that drop everything are required, other phases optional)
 *   - conformance against every impairment it crosses (explicit `crosses`, or a relay whose listen
 *     address is the probe's target)
 * Assertions: the file's (a probe assertion without `probe:` applies to every probe of the step),
 * plus automatic ones: every hook's exit code (`exit == 0`, or its `expectExit`; not when the
 * step asserts on its exit itself or it says `expectExit: any`); every impairment in effect for the whole step (at the end, and no gap the
 * site saw on the way); every (probe, crossed impairment) conformant.
 */
import type { Profile } from '../core/profile.js';
import type { ProbeSummary } from '../probe/stats/summary.js';
import { evaluate, HOOK_SUBJECTS, parseAssertion, type Assertion } from './assertions.js';
import { checkConformance, type ConformanceMeasurement } from './conformance.js';
import { analyseFailover, flapEvents, type InjectedEvent } from './failover.js';
import { decodeHistogram, distributionFrom, robustSigmaMs } from './histogram.js';
import type { AssertionResult, HookResult, InEffectGaps, ProbeResult, ProbeTick, TimelineSpan } from './result.js';
import type { PhaseRecord } from './sites/site.js';
import type { ImpairmentSpec, ProbeSpec, StepSpec } from './spec.js';

/** Probe timestamp resolution + impairing backend timer error, per direction (ms). */
export const DEFAULT_RESOLUTION_MS = 1;
/** IPv4 + UDP + Ethernet header bytes counted by netem and the relay. */
export const WIRE_OVERHEAD_BYTES = 42;

export interface MeasuredProbe {
  spec: ProbeSpec;
  /** The resolved target (HOST:PORT, tcp://..., http://...). */
  target: string;
  summary: ProbeSummary | null;
  histogramNs: string | null;
  ticks: ProbeTick[];
  error?: string;
  baseline?: ConformanceMeasurement;
  /** Clock uncertainty of the probe's site relative to the controller (ms). */
  clockUncertaintyMs: number;
}

export interface StepMeasurements {
  step: StepSpec;
  startMs: number;
  endMs: number;
  profiles: Map<string, Profile>;
  /** `gaps`: the times the site found it missing since the apply (it may be back: `inEffect` true). */
  impairments: { spec: ImpairmentSpec; applied: boolean; inEffect: boolean | null; gaps?: InEffectGaps; phases: PhaseRecord[]; error?: string }[];
  faults: { name: string; kind: string; agent: string; startMs: number; endMs: number; error?: string }[];
  probes: MeasuredProbe[];
  hooks: HookResult[];
  promql: { name: string; values: number[] | null; error?: string }[];
}

function crossed(m: StepMeasurements, p: MeasuredProbe): ImpairmentSpec[] {
  const all = m.impairments.map((i) => i.spec);
  if (p.spec.crosses.length > 0) return all.filter((i) => p.spec.crosses.includes(i.name));
  return all.filter((i) => i.target.kind === 'relay' && i.target.listen === p.target);
}

function hasLoss(p: Profile | undefined): boolean {
  if (!p) return false;
  const any = (i: { loss?: unknown } | null | undefined): boolean => Boolean(i?.loss);
  return any(p.egress) || any(p.ingress) || (p.schedule?.phases.some((ph) => any(ph.egress) || any(ph.ingress)) ?? false);
}

function probeValues(s: ProbeSummary | null): Record<string, number | null> {
  if (!s) return {};
  const maxOutage = s.outages.length ? Math.max(...s.outages.map((o) => o.durationMs)) : 0;
  return {
    'rtt.min': s.rttMs.min,
    'rtt.p50': s.rttMs.p50,
    'rtt.p90': s.rttMs.p90,
    'rtt.p99': s.rttMs.p99,
    'rtt.p999': s.rttMs.p999,
    'rtt.max': s.rttMs.max,
    'rtt.mean': s.rttMs.mean,
    'rtt.stddev': s.rttMs.stddev,
    jitter: s.received > 1 ? s.jitterMs : null,
    loss: s.sent > 0 ? s.lossRatio : null,
    'loss.count': s.lost,
    sent: s.sent,
    received: s.received,
    late: s.late,
    duplicates: s.duplicates,
    reordered: s.reordered,
    'outage.count': s.outageCount,
    'outage.max': maxOutage,
    'outage.total': s.outageTotalMs,
  };
}

/**
 * The injected events of the step's faults: one per fault, except a flap, which is one per down
 * period (flapEvents: its planned periods from its actual start; periods that would begin after
 * it actually ended, when it was stopped early, are left out), so each period's outage is matched
 * and timed on its own and a period without an outage counts in `failover.unmatched`.
 */
export function faultEvents(m: Pick<StepMeasurements, 'step' | 'faults'>): InjectedEvent[] {
  return m.faults
    .filter((f) => f.error === undefined)
    .flatMap((f) => {
      const spec = m.step.faults.find((x) => x.name === f.name);
      if (spec?.kind !== 'flap') return [{ kind: 'fault' as const, name: f.name, startMs: f.startMs, endMs: f.endMs }];
      return flapEvents(f.name, f.startMs, spec.downForMs, spec.upForMs, spec.count)
        .filter((e) => e.startMs < f.endMs)
        .map((e) => ({ ...e, endMs: Math.min(e.endMs, f.endMs) }));
    });
}

export function evaluateStep(m: StepMeasurements): { probes: ProbeResult[]; assertions: AssertionResult[]; spans: TimelineSpan[] } {
  const stepName = m.step.name;
  const spans: TimelineSpan[] = [{ kind: 'step', label: stepName, startMs: m.startMs, endMs: m.endMs }];
  const injected = faultEvents(m);
  // Faults on the timeline as injected: a flap's down periods, each its own band.
  for (const e of injected) spans.push({ kind: 'fault', label: e.name, startMs: e.startMs, endMs: e.endMs });
  for (const f of m.faults) if (f.error !== undefined) spans.push({ kind: 'fault', label: f.name, startMs: f.startMs, endMs: f.endMs });
  for (const i of m.impairments) {
    for (const ph of i.phases) {
      if (ph.name === 'base' && i.phases.length === 1) continue;
      spans.push({ kind: 'phase', label: `${i.spec.name}: ${ph.name}`, startMs: ph.startMs, endMs: Math.min(ph.endMs, m.endMs), owner: i.spec.name });
    }
  }

  const probes: ProbeResult[] = m.probes.map((p) => {
    const crosses = crossed(m, p);
    const crossedImps = m.impairments.filter((i) => crosses.includes(i.spec));
    const events: InjectedEvent[] = [
      ...injected,
      // Phases that drop everything are expected outages.
      ...crossedImps.flatMap((i) =>
        i.phases.filter((ph) => ph.outage).map((ph) => ({ kind: 'phase' as const, name: `${i.spec.name}: ${ph.name}`, startMs: ph.startMs, endMs: Math.min(ph.endMs, m.endMs) })),
      ),
      // A profile with a loss model explains bursts of lost probes anywhere in the step.
      ...crossedImps
        .filter((i) => hasLoss(m.profiles.get(i.spec.name)))
        .map((i) => ({ kind: 'phase' as const, name: `${i.spec.name}: loss model`, startMs: m.startMs, endMs: m.endMs, optional: true })),
    ];
    const result: ProbeResult = {
      step: stepName,
      name: p.spec.name,
      from: p.spec.from,
      to: p.target,
      kind: p.spec.kind,
      intervalMs: p.spec.intervalMs,
      summary: p.summary,
      ticks: p.ticks,
      conformance: [],
      ...(p.error ? { error: p.error } : {}),
      ...(p.histogramNs ? { histogramNs: p.histogramNs } : {}),
    };
    if (p.histogramNs) {
      try {
        result.latency = distributionFrom(decodeHistogram(p.histogramNs, 1e-6));
      } catch {
        /* an undecodable histogram leaves the plots out; the summary still stands */
      }
    }
    if (p.summary) {
      result.failover = analyseFailover(p.summary.outages, events, {
        intervalMs: p.spec.intervalMs,
        outageMinLost: p.spec.outageMinLost,
        clockUncertaintyMs: p.clockUncertaintyMs,
        // The longest sender stall: a window can start that much before the injection (no probe
        // was sent in between to see when traffic really stopped).
        slackMs: Math.max(p.summary.sendLatenessMs?.max ?? 0, p.summary.missedMaxLatenessMs ?? 0),
      });
      for (const o of p.summary.outages) spans.push({ kind: 'outage', label: `${p.spec.name} outage ${o.durationMs.toFixed(0)} ms`, startMs: o.startMs, endMs: o.endMs, owner: p.spec.name });
      const s = p.summary;
      // Probes lost in outages that faults caused are not the profile's doing.
      const faultLost = result.failover.matches.filter((x) => x.event.kind === 'fault').reduce((a, x) => a + x.outages.reduce((b, o) => b + o.lost, 0), 0);
      const spread = result.latency ? robustSigmaMs(result.latency) : null;
      if (s.rttMs.p50 !== null) {
        for (const imp of crosses) {
          const profile = m.profiles.get(imp.name);
          if (!profile) continue;
          result.conformance.push({
            impairment: imp.name,
            profile: profile.name,
            result: checkConformance({
              profile,
              direction: imp.direction,
              measured: {
                sent: s.sent - faultLost,
                received: s.received,
                rttMs: { p50: s.rttMs.p50, ...(s.rttMs.p90 !== null ? { p90: s.rttMs.p90 } : {}), stddev: s.rttMs.stddev ?? 0 },
                ...(spread !== null ? { spreadMs: spread } : {}),
              },
              ...(p.baseline ? { baseline: p.baseline } : {}),
              // A loaded host fires timers late, in the impairing relay as in the probe: the probe's
              // own send lateness (p90) measures it and widens the resolution.
              resolutionMs: DEFAULT_RESOLUTION_MS + (s.sendLatenessMs?.p90 ?? 0),
              packetBytes: (s.sizeBytes ?? 44) + WIRE_OVERHEAD_BYTES,
              probeIntervalMs: p.spec.intervalMs,
            }),
          });
        }
      }
    }
    return result;
  });

  const assertions: AssertionResult[] = [];
  const push = (scope: AssertionResult['scope'], target: string, a: Assertion, values: Record<string, number | null | undefined>): void => {
    const out = evaluate(a, values);
    assertions.push({ step: stepName, scope, target, text: a.text, passed: out.passed, actual: out.actual, message: out.message });
  };
  const pushHook = (name: string, a: Assertion): void => {
    const h = m.hooks.find((x) => x.name === name);
    const values: Record<string, number | null> = h
      ? {
          exit: h.exitCode,
          duration: h.durationMs,
          'junit.tests': h.junit?.tests ?? null,
          'junit.failures': h.junit?.failures ?? null,
          'junit.errors': h.junit?.errors ?? null,
        }
      : {};
    push('hook', name, a, values);
    const last = assertions[assertions.length - 1] as AssertionResult;
    if (!h) last.message += ' (the hook did not run)';
    else if (!last.passed) {
      last.message += h.timedOut ? ' (timed out)' : h.error ? ` (${h.error})` : h.outputTail ? ` -- output: ${h.outputTail.trim().split('\n').slice(-3).join(' | ')}` : '';
    }
  };
  for (const a of m.step.assertions) {
    if (a.scope === 'probe') {
      const targets = a.probe === null ? probes : probes.filter((p) => p.name === a.probe);
      for (const p of targets) {
        const values = { ...probeValues(p.summary), ...(p.failover?.values ?? {}) };
        if (p.error && !p.summary) assertions.push({ step: stepName, scope: 'probe', target: p.name, text: a.assertion.text, passed: false, actual: null, message: `probe failed: ${p.error}` });
        else push('probe', p.name, a.assertion, values);
      }
    } else if (a.scope === 'hook') {
      pushHook(a.hook, a.assertion);
    } else {
      const q = m.promql.find((x) => x.name === a.name);
      if (!q || q.values === null || q.values.length === 0) {
        assertions.push({ step: stepName, scope: 'promql', target: a.name, text: `${a.query} ${a.assertion.text}`, passed: false, actual: null, message: q?.error ? `query failed: ${q.error}` : 'the query returned no samples' });
      } else {
        const outs = q.values.map((v) => ({ v, o: evaluate(a.assertion, { value: v }) }));
        const worst = outs.find((x) => !x.o.passed) ?? (outs[0] as { v: number; o: ReturnType<typeof evaluate> });
        assertions.push({ step: stepName, scope: 'promql', target: a.name, text: `${a.query} ${a.assertion.text}`, passed: outs.every((x) => x.o.passed), actual: worst.v, message: `${worst.o.message}${q.values.length > 1 ? ` (${q.values.length} series)` : ''}` });
      }
    }
  }
  // Automatic: every hook exits as expected (exit == 0 unless `expectExit`), unless the step
  // asserts on its exit code itself or the hook opts out (`expectExit: any`).
  for (const h of m.step.hooks) {
    const expected = h.expectExit === undefined ? 0 : h.expectExit;
    if (expected === null) continue;
    if (m.step.assertions.some((a) => a.scope === 'hook' && a.hook === h.name && a.assertion.subject === 'exit')) continue;
    const r = parseAssertion(`exit == ${expected}`, HOOK_SUBJECTS);
    if (r.ok) pushHook(h.name, r.assertion);
  }
  for (const i of m.impairments) {
    // In effect for the whole step: not only at the end (a re-apply puts a vanished one back).
    const gaps = i.gaps && i.gaps.count > 0 ? i.gaps : null;
    const ok = i.applied && i.inEffect !== false && !gaps;
    const gapText = gaps
      ? `not in effect ${gaps.count} time${gaps.count === 1 ? '' : 's'} during the step, ${Math.round(gaps.totalMs)} ms from detection to re-apply in all${gaps.lastAtMs !== null ? `, the last detected ${((gaps.lastAtMs - m.startMs) / 1000).toFixed(1)} s into the window` : ''}${i.inEffect === true ? ' (in effect again at the end)' : ''}`
      : '';
    assertions.push({
      step: stepName,
      scope: 'in-effect',
      target: i.spec.name,
      text: `${i.spec.name} in effect`,
      passed: ok,
      actual: ok ? 1 : 0,
      message: !i.applied
        ? `not applied: ${i.error ?? 'unknown error'}`
        : i.inEffect === false
          ? `the site reports it is not in effect${gaps ? ` (${gapText})` : ''}`
          : gaps
            ? gapText
            : i.inEffect === null
              ? 'applied (the site cannot read it back)'
              : 'in effect',
    });
  }
  for (const p of probes) {
    for (const c of p.conformance) {
      const bad = c.result.checks.filter((x) => x.status === 'deviation' || x.status === 'not-in-effect');
      assertions.push({
        step: stepName,
        scope: 'conformance',
        target: `${p.name} x ${c.impairment}`,
        text: `${p.name} measures ${c.profile} on ${c.impairment}`,
        passed: c.result.ok,
        actual: bad.length,
        message: bad.length === 0 ? `conformant (${c.result.checks.map((x) => `${x.quantity} ${x.status}`).join(', ')})` : bad.map((b) => `${b.quantity} ${b.status}: expected ${fmtExp(b.expected)}, measured ${b.measured === null ? '-' : b.measured.toFixed(4)}`).join('; '),
    });
    }
  }
  return { probes, assertions, spans };
}

function fmtExp(e: number | [number, number] | null): string {
  if (e === null) return '-';
  if (Array.isArray(e)) return `${e[0].toFixed(4)}..${e[1].toFixed(4)}`;
  return e.toFixed(4);
}
