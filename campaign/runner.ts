/**
 * The campaign runner: pre-flight, then each step at an agreed time, then verdicts; and always
 * revert.
 *
 *   resolve profiles -> pre-flight every site (reachable, authorised, backends and fault kinds
 *   capable, clock offset from STAMP timestamps) -> baseline probes on the unimpaired paths
 *   -> for each step: agree a start (now + startDelay), apply everywhere at that instant (skew
 *      recorded), probes + faults + hooks, leases renewed every TTL/3, a progress tick per second,
 *      read in-effect, stop probes, PromQL at the step's end, revert, evaluate
 *   -> finally (errors, Ctrl-C, a lost site): revert every impairment still held, on every site.
 *
 * Nothing touches a site before every pre-flight check has passed. A site that stops answering
 * (ERR_UNREACHABLE) ends the campaign: it is reported, the other sites are reverted, exit 2; its
 * own leases expire on the site (the agent's guard reverts it). Exit codes: 0 all assertions hold,
 * 1 some do not, 2 the campaign could not run (see result.ts `verdictOf`).
 */
import { BackhaulError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Profile } from '../core/profile.js';
import { estimateClockOffset } from './clock-offset.js';
import type { ConformanceMeasurement } from './conformance.js';
import { decodeHistogram, distributionFrom, robustSigmaMs } from './histogram.js';
import { isLocalFault } from './local-faults.js';
import { runStep } from './run-step.js';
import { baselineKey, guard, type ProgressEvent, type RunnerDeps } from './run-shared.js';

export type { ProgressEvent, RunnerDeps } from './run-shared.js';
import { verdictOf, type AgentReport, type CampaignResult } from './result.js';
import type { SiteDriver, SitePreflight, SiteProbeRun } from './sites/site.js';
import type { Campaign, ProbeSpec } from './spec.js';

export async function runCampaign(c: Campaign, deps: RunnerDeps): Promise<CampaignResult> {
  const clock = deps.clock ?? systemClock;
  const signal = deps.signal;
  const emit = (e: ProgressEvent): void => {
    try {
      deps.onProgress?.(e);
    } catch {
      /* progress display must never break a run */
    }
  };
  const result: CampaignResult = { campaign: c.name, description: c.description, source: c.source, startedAtMs: clock.wallMs(), endedAtMs: 0, verdict: 'error', exitCode: 2, agents: [], steps: [], reverts: [] };
  const sites = new Map<string, SiteDriver>(c.agents.map((a) => [a.name, deps.connect(a)]));
  const site = (name: string): SiteDriver => sites.get(name) as SiteDriver;
  const held = new Map<string, { agent: string; impairment: string }>();
  const preflights = new Map<string, SitePreflight>();
  let fatal: string | undefined;

  try {
    // 1. Profiles.
    const profiles = new Map<string, Profile>();
    const problems: string[] = [];
    for (const s of c.steps) {
      for (const imp of s.impairments) {
        try {
          profiles.set(`${s.name}/${imp.name}`, await deps.resolveProfile(imp.profile));
        } catch (e) {
          problems.push(`step ${s.name}, impairment ${imp.name}: ${(e as Error).message}`);
        }
      }
    }
    // 2. Pre-flight, every site in parallel; nothing is touched unless all pass.
    await Promise.all(
      c.agents.map(async (a) => {
        const rep: AgentReport = { name: a.name, url: a.url, reachable: false, authorised: false, backends: [], clockOffsetMs: null, clockUncertaintyMs: null, problems: [] };
        result.agents.push(rep);
        try {
          const pf = await site(a.name).preflight(signal);
          preflights.set(a.name, pf);
          Object.assign(rep, { reachable: pf.reachable, authorised: pf.authorised, backends: pf.backends, ...(pf.version ? { version: pf.version } : {}) });
          rep.problems.push(...pf.problems);
          if (pf.reflector) {
            const [host, port] = [pf.reflector.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), Number(pf.reflector.split(':').pop())];
            const off = await estimateClockOffset(host, port, { count: 8, timeoutMs: 500 });
            if (off) {
              Object.assign(rep, { clockOffsetMs: off.offsetMs, clockUncertaintyMs: off.uncertaintyMs });
              site(a.name).setClockOffset?.(off.offsetMs);
            }
            else rep.problems.push(`its reflector ${pf.reflector} did not answer: clock offset unknown`);
          }
        } catch (e) {
          rep.problems.push((e as Error).message);
        }
      }),
    );
    result.agents.sort((x, y) => c.agents.findIndex((a) => a.name === x.name) - c.agents.findIndex((a) => a.name === y.name));
    for (const rep of result.agents) {
      if (!rep.reachable) problems.push(`agent ${rep.name} (${rep.url}) is not reachable${rep.problems.length ? `: ${rep.problems.join('; ')}` : ''}`);
      else if (!rep.authorised) problems.push(`agent ${rep.name} refused our token`);
    }
    for (const s of c.steps) {
      for (const imp of s.impairments) {
        const pf = preflights.get(imp.agent);
        const need = imp.target.kind === 'netem' ? 'netem' : 'relay';
        if (pf && !pf.backends.includes(need)) problems.push(`step ${s.name}: agent ${imp.agent} has no ${need} backend (it has: ${pf.backends.join(', ') || 'none'})`);
      }
      for (const f of s.faults) {
        const pf = preflights.get(f.agent);
        if (isLocalFault(f)) {
          if (process.getuid?.() !== 0) problems.push(`step ${s.name}: fault ${f.name} runs 'ip -n ${(f as { netns?: string }).netns}' on this host: that needs root`);
        } else if (pf && !pf.faults.includes(f.kind)) problems.push(`step ${s.name}: agent ${f.agent} cannot inject '${f.kind}' (it can: ${pf.faults.join(', ') || 'nothing'})`);
      }
      for (const h of s.hooks) {
        if (h.on !== 'agent') continue;
        const pf = preflights.get(h.agent);
        if (pf?.reachable && !(pf.hooks ?? []).includes(h.hook)) problems.push(`step ${s.name}: hook ${h.name}: agent ${h.agent} declares no hook '${h.hook}' (it has: ${(pf.hooks ?? []).join(', ') || 'none'})`);
      }
      for (const p of s.probes) {
        if (p.to.startsWith('agent:') && !preflights.get(p.to.slice(6))?.reflector) problems.push(`step ${s.name}: probe ${p.name}: agent ${p.to.slice(6)} runs no reflector`);
      }
      for (const i of s.impairments) {
        const up = i.target.kind === 'relay' ? i.target.upstream : '';
        if (up.startsWith('agent:') && !preflights.get(up.slice(6))?.reflector) problems.push(`step ${s.name}: impairment ${i.name}: agent ${up.slice(6)} runs no reflector`);
      }
    }
    // Profiles sent by name are resolved by the site's own library: it must know them.
    for (const a of c.agents) {
      const s = site(a.name);
      if (!s.missingProfiles || !preflights.get(a.name)?.reachable) continue;
      const names = [...new Set(c.steps.flatMap((st) => st.impairments.filter((i) => i.agent === a.name && 'name' in i.profile).map((i) => (i.profile as { name: string }).name)))];
      if (names.length === 0) continue;
      try {
        const missing = await s.missingProfiles(names);
        if (missing.length) problems.push(`agent ${a.name} does not know profile(s) ${missing.join(', ')} (install them in its --profiles dir, or inline them in the campaign)`);
      } catch (e) {
        problems.push(`agent ${a.name}: cannot list its profiles: ${(e as Error).message}`);
      }
    }
    emit({ type: 'preflight', agents: result.agents });
    if (problems.length) throw new BackhaulError('ERR_CAMPAIGN_INVALID', `pre-flight failed, no site was touched: ${problems.join('; ')}`, { problems });

    const resolveAddr = (a: string): string => (a.startsWith('agent:') ? (preflights.get(a.slice(6))?.reflector as string) : a);
    const resolveTarget = (p: ProbeSpec): string => resolveAddr(p.to);
    const uncertainty = (agent: string): number => result.agents.find((a) => a.name === agent)?.clockUncertaintyMs ?? 0;

    // 3. Baselines: each crossing probe's path without the impairment (a relay's upstream directly).
    const baselines = await measureBaselines(c, deps.baselineMs ?? 2000, site, resolveTarget, resolveAddr, emit, clock, signal);

    // 4. Steps.
    for (const [index, s] of c.steps.entries()) {
      const r = await runStep(c, s, index, { deps, clock, site, held, profiles, resolveTarget, resolveAddr, uncertainty, baselines, emit });
      result.steps.push(r);
      emit({ type: 'step-end', step: r });
      if (r.error) break;
    }
  } catch (e) {
    fatal = signal?.aborted ? `interrupted: ${(signal.reason as Error)?.message ?? 'aborted'}` : (e as Error).message;
  } finally {
    // 5. Always revert what is still held, on every site still answering: in the campaign file's
    //    order (held fills as the applies complete, which varies from run to run), ties by id.
    const fileRank = new Map<string, number>();
    for (const [i, x] of c.steps.flatMap((st) => st.impairments).entries()) if (!fileRank.has(`${x.agent}\0${x.name}`)) fileRank.set(`${x.agent}\0${x.name}`, i);
    const rank = (h: { agent: string; impairment: string }): number => fileRank.get(`${h.agent}\0${h.impairment}`) ?? Number.MAX_SAFE_INTEGER;
    const toRevert = [...held.entries()].sort(([ia, a], [ib, b]) => rank(a) - rank(b) || (ia < ib ? -1 : ia > ib ? 1 : 0));
    for (const [id, h] of toRevert) {
      try {
        await site(h.agent).revert(id);
        result.reverts.push({ agent: h.agent, impairment: h.impairment, ok: true });
      } catch (e) {
        result.reverts.push({ agent: h.agent, impairment: h.impairment, ok: false, error: `${(e as Error).message} (left to the site: its lease expires, and its guard reverts if the agent died)` });
      }
      held.delete(id);
    }
    emit({ type: 'reverted', reverts: result.reverts });
    await Promise.allSettled([...sites.values()].map((s) => s.close()));
  }
  result.endedAtMs = clock.wallMs();
  if (fatal !== undefined) result.error = fatal;
  Object.assign(result, verdictOf(result.steps, fatal));
  return result;
}

async function measureBaselines(
  c: Campaign,
  durationMs: number,
  site: (n: string) => SiteDriver,
  resolveTarget: (p: ProbeSpec) => string,
  resolveAddr: (a: string) => string,
  emit: (e: ProgressEvent) => void,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<Map<string, ConformanceMeasurement>> {
  const out = new Map<string, ConformanceMeasurement>();
  if (durationMs <= 0) return out;
  const wanted = new Map<string, { from: string; target: string; probe: ProbeSpec }>();
  for (const s of c.steps) {
    for (const p of s.probes) {
      if (p.kind !== 'stamp') continue;
      const target = resolveTarget(p);
      const crossing = s.impairments.filter((i) => p.crosses.includes(i.name) || (i.target.kind === 'relay' && i.target.listen === target));
      if (crossing.length === 0) continue;
      const relay = crossing.find((i) => i.target.kind === 'relay');
      const base = relay && relay.target.kind === 'relay' ? resolveAddr(relay.target.upstream) : target;
      wanted.set(baselineKey(p.from, target), { from: p.from, target: base, probe: p });
    }
  }
  if (wanted.size === 0) return out;
  emit({ type: 'baseline', probes: wanted.size, durationMs });
  await Promise.all(
    [...wanted.entries()].map(async ([key, w]) => {
      let run: SiteProbeRun | undefined;
      try {
        run = await guard(w.from, site(w.from).startProbe({ ...w.probe, name: `${w.probe.name}-baseline` }, w.target, durationMs));
        await clock.sleep(durationMs, signal);
      } finally {
        const fin = await run?.stop().catch(() => null);
        const s = fin?.summary;
        if (s && s.received > 1 && s.rttMs.p50 !== null) {
          const spread = fin?.histogramNs ? robustSigmaMs(distributionFrom(decodeHistogram(fin.histogramNs, 1e-6))) : null;
          out.set(key, { sent: s.sent, received: s.received, rttMs: { p50: s.rttMs.p50, ...(s.rttMs.p90 !== null ? { p90: s.rttMs.p90 } : {}), stddev: s.rttMs.stddev ?? 0 }, ...(spread !== null ? { spreadMs: spread } : {}) });
        }
      }
    }),
  );
  return out;
}

