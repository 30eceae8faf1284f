/**
 * One campaign step (see runner.ts for the whole):
 *
 *   agreed start T = now + startDelay --> at T - min(startDelay, APPLY_LEAD_MS) send every apply
 *   with startAt = T (parallel); each site waits for T on its own clock (a remote one converted
 *   with the measured offset) and applies then, so the request's path delay does not delay the
 *   switch (skew = applied - T per site) --> the step's window opens at S = the instant every
 *   apply settled (a slow apply, seconds under emulation, must not eat the measured window):
 *   probes for `duration`, faults at S + at, hooks at S + at, lease renewal every TTL/3, a
 *   progress tick per second (live p50/p99/loss from the histograms' per-second difference)
 *   --> S + duration: read in-effect (now, and the gaps the site saw since the apply), stop
 *   probes, wait for faults and hooks, PromQL at S + duration, revert this step's impairments
 *   --> evaluate (evaluate.ts)
 *
 * A lost site (SiteLost) or Ctrl-C stops the step: it returns with `error` set (after stopping its
 * probes) and the runner reverts what is held. Leases are renewed until the revert.
 */
import * as hdr from 'hdr-histogram-js';
import { BackhaulError, isBackhaulError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Profile } from '../core/profile.js';
import type { ConformanceMeasurement } from './conformance.js';
import { evaluateStep, type MeasuredProbe, type StepMeasurements } from './evaluate.js';
import { runHook } from './hooks.js';
import { isLocalFault, runLocalFault } from './local-faults.js';
import { queryPrometheus } from './promql.js';
import type { HookResult, ProbeTick, StepResult } from './result.js';
import { baselineKey, guard, SiteLost, type ProgressEvent, type RunnerDeps } from './run-shared.js';
import type { PhaseRecord, SiteDriver, SiteProbeRun } from './sites/site.js';
import { faultEndMs, type Campaign, type ProbeSpec, type StepSpec } from './spec.js';

export interface StepContext {
  deps: RunnerDeps;
  clock: Clock;
  site: (n: string) => SiteDriver;
  held: Map<string, { agent: string; impairment: string }>;
  profiles: Map<string, Profile>;
  resolveTarget: (p: ProbeSpec) => string;
  /** 'agent:NAME' -> that agent's reflector HOST:PORT; anything else as is. */
  resolveAddr: (a: string) => string;
  uncertainty: (agent: string) => number;
  baselines: Map<string, ConformanceMeasurement>;
  emit: (e: ProgressEvent) => void;
}

interface LiveProbe {
  spec: ProbeSpec;
  target: string;
  run: SiteProbeRun | null;
  error?: string;
  ticks: ProbeTick[];
  prevHist: hdr.Histogram | null;
  prevSent: number;
  prevLost: number;
}

/**
 * A probe counts as lost only once its timeout has passed: book the newly lost probes on the tick
 * of their send time (about `sentBeforeMs`), so the timeline shows loss when it happened.
 */
export function attributeLoss(ticks: ProbeTick[], lost: number, sentBeforeMs: number): void {
  if (lost <= 0 || ticks.length === 0) return;
  let i = ticks.length - 1;
  while (i > 0 && (ticks[i] as ProbeTick).tMs - 1000 >= sentBeforeMs) i--;
  (ticks[i] as ProbeTick).lost += lost;
}

/**
 * How long before the agreed start the applies are sent, at most (ms): well inside the agent's
 * bound on `startAt` (60 s ahead), and room for a slow path. With a shorter startDelay, at once.
 */
export const APPLY_LEAD_MS = 30_000;

const pct = (h: hdr.Histogram | null, q: number): number | null => (h && h.totalCount > 0 ? h.getValueAtPercentile(q) / 1e6 : null);

/** Sorts `items` (in place) into the order their specs have in the campaign file, by name. */
function sortInFileOrder<T>(items: T[], specs: readonly { name: string }[], nameOf: (x: T) => string): void {
  const rank = new Map(specs.map((spec, i) => [spec.name, i]));
  items.sort((a, b) => (rank.get(nameOf(a)) ?? 0) - (rank.get(nameOf(b)) ?? 0));
}

export async function runStep(c: Campaign, s: StepSpec, index: number, x: StepContext): Promise<StepResult> {
  const { clock, site, held } = x;
  const outer = x.deps.signal;
  const stepAbort = new AbortController();
  const onOuter = (): void => stepAbort.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  const signal = stepAbort.signal;
  let error: string | undefined;
  const lostSites = new Map<string, string>(); // agent -> how it was lost (first detection)
  const fail = (e: unknown): void => {
    if (e instanceof SiteLost && !lostSites.has(e.site)) lostSites.set(e.site, e.message);
    if (error === undefined) error = e instanceof SiteLost ? e.message : outer?.aborted ? 'interrupted' : (e as Error).message;
    stepAbort.abort(e);
  };

  const plannedStartMs = clock.wallMs() + c.startDelayMs;
  let endMs = plannedStartMs + s.durationMs;
  x.emit({ type: 'step-start', step: s.name, index, total: c.steps.length, plannedStartMs, durationMs: s.durationMs });
  const skewMs: Record<string, number> = {};
  const appliedSkewMs = new Map<string, number>(); // impairment name -> applied - T (ms)
  const imps: StepMeasurements['impairments'] = [];
  const ids = new Map<string, string>(); // impairment name -> id
  const probes: LiveProbe[] = [];
  const faults: StepMeasurements['faults'] = [];
  const hooks: HookResult[] = [];
  const background: Promise<unknown>[] = [];
  let renewTimer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  let tickInFlight: Promise<void> | null = null;
  let startMs = plannedStartMs;
  let stepEnded = false;

  try {
    await clock.sleep(Math.max(0, plannedStartMs - APPLY_LEAD_MS - clock.wallMs()), signal);
    // Apply everywhere at the agreed instant (the sites wait for it). Wait for every apply to
    // settle (even when one site is lost) so that everything applied is known, and reverted.
    const settled = await Promise.allSettled(
      s.impairments.map(async (spec) => {
        const imp = spec.target.kind === 'relay' ? { ...spec, target: { ...spec.target, upstream: x.resolveAddr(spec.target.upstream) } } : spec;
        const profile = x.profiles.get(`${s.name}/${imp.name}`) as Profile;
        try {
          const r = await guard(imp.agent, site(imp.agent).apply({ impairment: imp, profile, ttlMs: c.leaseTtlMs, campaign: c.name, step: s.name, startAtMs: plannedStartMs }, signal));
          ids.set(imp.name, r.id);
          held.set(r.id, { agent: imp.agent, impairment: imp.name });
          appliedSkewMs.set(imp.name, r.appliedAtMs - plannedStartMs);
          imps.push({ spec: imp, applied: true, inEffect: null, phases: [] });
        } catch (e) {
          imps.push({ spec: imp, applied: false, inEffect: false, phases: [], error: (e as Error).message });
          throw e;
        }
      }),
    );
    // The step's impairments in the file's order (not in the order their applies completed), so
    // results and reports read the same from run to run.
    sortInFileOrder(imps, s.impairments, (i) => i.spec.name);
    // Skew per site (the latest of its applies), keyed in the campaign's agent order: keys written
    // as the applies completed would list the sites in a different order from run to run.
    for (const agent of new Set([...c.agents.map((a) => a.name), ...s.impairments.map((i) => i.agent)])) {
      for (const spec of s.impairments) {
        const v = spec.agent === agent ? appliedSkewMs.get(spec.name) : undefined;
        if (v !== undefined) skewMs[agent] = Math.max(skewMs[agent] ?? Number.NEGATIVE_INFINITY, v);
      }
    }
    const lost = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof SiteLost);
    if (lost) throw lost.reason;
    const notApplied = imps.filter((i) => !i.applied);
    if (notApplied.length) throw new Error(`could not apply ${notApplied.map((i) => `${i.spec.name} (${i.error ?? ''})`).join(', ')}`);
    startMs = clock.wallMs();
    endMs = startMs + s.durationMs;
    x.emit({ type: 'step-window', step: s.name, applyMs: startMs - plannedStartMs, startMs, endMs });

    // Leases: renew every TTL/3 until the revert.
    renewTimer = setInterval(() => {
      for (const imp of s.impairments) {
        const id = ids.get(imp.name);
        if (!id || !held.has(id)) continue;
        guard(imp.agent, site(imp.agent).renew(id, c.leaseTtlMs)).catch((e: unknown) => {
          // A renew racing this step's own revert is not an error; anything else is.
          if (held.has(id) && !stepEnded) fail(e);
        });
      }
    }, Math.max(250, c.leaseTtlMs / 3));

    // Probes for the rest of the step (all settled before going on, as for the applies).
    const started = await Promise.allSettled(
      s.probes.map(async (p) => {
        const target = x.resolveTarget(p);
        const live: LiveProbe = { spec: p, target, run: null, ticks: [], prevHist: null, prevSent: 0, prevLost: 0 };
        probes.push(live);
        try {
          live.run = await guard(p.from, site(p.from).startProbe(p, target, Math.max(1, endMs - clock.wallMs())));
        } catch (e) {
          if (e instanceof SiteLost) throw e;
          live.error = (e as Error).message;
        }
      }),
    );
    const lostProbe = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (lostProbe) throw lostProbe.reason;

    // Faults and hooks at their offsets.
    for (const f of s.faults) {
      background.push(
        (async () => {
          try {
            await clock.sleep(Math.max(0, startMs + f.atMs - clock.wallMs()), signal);
            const t = isLocalFault(f) ? await runLocalFault(f, clock, signal) : await guard(f.agent, site(f.agent).fault(f, signal));
            faults.push({ name: f.name, kind: f.kind, agent: f.agent, ...t });
          } catch (e) {
            if (e instanceof SiteLost) fail(e);
            else if (!signal.aborted) faults.push({ name: f.name, kind: f.kind, agent: f.agent, startMs: startMs + f.atMs, endMs: startMs + faultEndMs(f), error: (e as Error).message });
          }
        })(),
      );
    }
    for (const h of s.hooks) {
      background.push(
        (async () => {
          try {
            await clock.sleep(Math.max(0, startMs + h.atMs - clock.wallMs()), signal);
          } catch {
            return;
          }
          if (h.on === 'controller') {
            hooks.push(await runHook(h, { campaign: c.name, step: s.name, stepEndMs: endMs, cwd: x.deps.cwd ?? process.cwd(), signal: outer ?? new AbortController().signal }));
            return;
          }
          const started = Date.now();
          try {
            const target = site(h.agent);
            if (!target.runHook) throw new BackhaulError('ERR_UNSUPPORTED', `site ${h.agent} cannot run hooks`);
            hooks.push({ ...(await guard(h.agent, target.runHook(h, { campaign: c.name, step: s.name, stepEndMs: endMs }, outer))), step: s.name, name: h.name });
          } catch (e) {
            if (e instanceof SiteLost) return fail(e);
            hooks.push({ step: s.name, name: h.name, exitCode: null, timedOut: false, durationMs: Date.now() - started, outputTail: '', error: (e as Error).message });
          }
        })(),
      );
    }

    // Progress: one tick a second.
    const tick = async (): Promise<void> => {
      const rows: Extract<ProgressEvent, { type: 'tick' }>['probes'] = [];
      for (const p of probes) {
        if (!p.run) continue;
        try {
          const snap = await guard(p.spec.from, p.run.snapshot());
          const cur = snap.histogramNs ? hdr.decodeFromCompressedBase64(snap.histogramNs) : null;
          let diff: hdr.Histogram | null = null;
          if (snap.histogramNs) {
            diff = hdr.decodeFromCompressedBase64(snap.histogramNs);
            if (p.prevHist) diff.subtract(p.prevHist);
          }
          const sent = snap.summary.sent - p.prevSent;
          const lost = snap.summary.lost - p.prevLost;
          const now = clock.wallMs();
          const t: ProbeTick = { tMs: now, sent, lost: 0, p50Ms: pct(diff, 50), p99Ms: pct(diff, 99) };
          p.ticks.push(t);
          attributeLoss(p.ticks, lost, now - p.spec.timeoutMs);
          p.prevHist = cur;
          p.prevSent = snap.summary.sent;
          p.prevLost = snap.summary.lost;
          // Loss so far in this step (a probe is declared lost a timeout after it was sent, so a
          // per-second ratio of lost to sent could exceed 100% during an outage).
          rows.push({ name: p.spec.name, sent: snap.summary.sent, p50Ms: t.p50Ms, p99Ms: t.p99Ms, loss: snap.summary.sent > 0 ? snap.summary.lost / snap.summary.sent : 0 });
        } catch (e) {
          if (e instanceof SiteLost) fail(e);
        }
      }
      x.emit({ type: 'tick', step: s.name, timeLeftMs: Math.max(0, endMs - clock.wallMs()), probes: rows });
    };
    // One tick at a time: a snapshot slower than a second must not overlap the next one (answered
    // in the other order, the older snapshot would be diffed against the newer: negative counts).
    tickTimer = setInterval(() => {
      tickInFlight ??= tick()
        .catch(() => undefined)
        .finally(() => {
          tickInFlight = null;
        });
    }, 1000);

    await clock.sleep(Math.max(0, endMs - clock.wallMs()), signal);
  } catch (e) {
    fail(e);
  } finally {
    clearInterval(tickTimer);
    // Its last snapshot lands before the probes are stopped and read; an interrupted or failed
    // step goes straight on to the reverts instead (a hung site would hold them up to a timeout).
    if (!signal.aborted) await tickInFlight;
  }

  // Read back whether each impairment is still in effect (the agent's reconciliation view).
  if (!error) {
    await Promise.all(
      imps.map(async (i) => {
        const id = ids.get(i.spec.name);
        if (!id) return;
        try {
          const r = await guard(i.spec.agent, site(i.spec.agent).inEffect(id));
          i.inEffect = r.now;
          if (r.gaps) i.gaps = r.gaps;
        } catch (e) {
          fail(e);
        }
      }),
    );
  }
  // Stop probes; wait for faults (they restore themselves) and hooks.
  const measured: MeasuredProbe[] = await Promise.all(
    probes.map(async (p): Promise<MeasuredProbe> => {
      let summary = null;
      let histogramNs: string | null = null;
      let perr = p.error;
      if (p.run) {
        try {
          const fin = await guard(p.spec.from, p.run.stop());
          summary = fin.summary;
          attributeLoss(p.ticks, fin.summary.lost - p.prevLost, clock.wallMs() - p.spec.timeoutMs);
          histogramNs = fin.histogramNs;
        } catch (e) {
          perr = (e as Error).message;
          if (e instanceof SiteLost) fail(e);
        }
      }
      const baseline = x.baselines.get(baselineKey(p.spec.from, p.target));
      return { spec: p.spec, target: p.target, summary, histogramNs, ticks: p.ticks, clockUncertaintyMs: x.uncertainty(p.spec.from), ...(perr ? { error: perr } : {}), ...(baseline ? { baseline } : {}) };
    }),
  );
  await Promise.allSettled(background);
  // Faults and hooks in the file's order too (they were recorded as they finished).
  sortInFileOrder(faults, s.faults, (f) => f.name);
  sortInFileOrder(hooks, s.hooks, (h) => h.name);
  const promql: StepMeasurements['promql'] = [];
  if (!error && c.prometheus) {
    for (const a of s.assertions) {
      if (a.scope !== 'promql') continue;
      promql.push({ name: a.name, ...(await (x.deps.query ?? queryPrometheus)(c.prometheus, a.query, endMs)) });
    }
  }
  // Phases as switched, then revert this step's impairments (no more renewals from here on).
  stepEnded = true;
  clearInterval(renewTimer);
  for (const i of imps) {
    const id = ids.get(i.spec.name);
    if (!id) continue;
    try {
      i.phases = await site(i.spec.agent).phases(id);
    } catch {
      i.phases = [] as PhaseRecord[];
    }
    try {
      await site(i.spec.agent).revert(id);
      held.delete(id);
    } catch (e) {
      if (isBackhaulError(e) && e.code === 'ERR_NOT_FOUND') held.delete(id);
      else fail(new SiteLost(i.spec.agent, e));
    }
  }
  clearInterval(renewTimer);
  outer?.removeEventListener('abort', onOuter);

  // Several sites lost: name every one, in the campaign's agent order (which one was detected
  // first depends on which of the concurrent requests failed first).
  if (lostSites.size > 1 && error !== undefined && [...lostSites.values()].includes(error)) {
    const rank = (a: string): number => {
      const i = c.agents.findIndex((x) => x.name === a);
      return i < 0 ? c.agents.length : i;
    };
    error = [...lostSites.entries()].sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1)).map(([, m]) => m).join('; ');
  }
  const stepEnd = Math.min(clock.wallMs(), endMs);
  const ev = evaluateStep({ step: s, startMs, endMs: stepEnd, profiles: new Map(s.impairments.map((i) => [i.name, x.profiles.get(`${s.name}/${i.name}`) as Profile])), impairments: imps, faults, probes: measured, hooks, promql });
  return {
    name: s.name,
    plannedStartMs,
    startMs,
    endMs: stepEnd,
    skewMs,
    impairments: imps.map((i) => ({ name: i.spec.name, agent: i.spec.agent, profile: x.profiles.get(`${s.name}/${i.spec.name}`)?.name ?? '?', applied: i.applied, inEffect: i.inEffect, ...(i.gaps ? { notInEffect: i.gaps } : {}), ...(i.error ? { error: i.error } : {}) })),
    faults,
    probes: ev.probes,
    hooks,
    assertions: ev.assertions,
    spans: ev.spans,
    ...(error ? { error } : {}),
  };
}
