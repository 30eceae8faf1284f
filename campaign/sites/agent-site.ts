/**
 * A site reached through its agent's HTTP API (agent/api/client.ts).
 *
 * - Times: the agent stamps with its own clock; the runner tells us the estimated offset
 *   (agent - controller, from STAMP timestamps) and we convert every time to the controller's,
 *   and the agreed start (`startAtMs`) to the agent's (`startAt` in the create request).
 * - Leases: impairments are created with the campaign's TTL and controller name; the agent
 *   reverts them itself when they are not renewed (and its guard when it dies).
 * - Histograms: the agent serves RTT in microseconds; they are rescaled to nanoseconds here so
 *   every site hands the runner the same unit.
 * - Faults: POST /v1/faults (link down, flap, blackhole in the agent's own namespace); `fault()`
 *   waits until the agent reports it ended (polling), and ends it at once on abort. Agents that do
 *   not list `faults` in their capabilities get none (pre-flight refuses the campaign).
 * - Hooks: only hooks the agent's config declares (capabilities.hooks), run with a bounded wait.
 * Network failures surface as ERR_UNREACHABLE (the runner treats that as a lost site).
 */
import * as hdr from 'hdr-histogram-js';
import { BackhaulError, isBackhaulError } from '../../core/errors.js';
import { AgentClient } from '../../agent/api/client.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';
import type { HookResult } from '../result.js';
import type { AgentHookSpec, AgentSpec, FaultSpec } from '../spec.js';
import type { ApplyRequest, InEffectReading, PhaseRecord, SiteDriver, SitePreflight, SiteProbeRun } from './site.js';

/** Re-encode a histogram with every value multiplied by `factor` (e.g. us -> ns: 1000). */
export function rescaleHistogram(encoded: string, factor: number): string {
  const src = hdr.decodeFromCompressedBase64(encoded) as hdr.Histogram & {
    recordedValuesIterator: { reset(): void; hasNext(): boolean; next(): { valueIteratedTo: number; countAtValueIteratedTo: number } };
  };
  const out = hdr.build({ numberOfSignificantValueDigits: src.numberOfSignificantValueDigits as 1 | 2 | 3 | 4 | 5, highestTrackableValue: Math.max(2, src.maxValue * factor * 2) });
  const it = src.recordedValuesIterator;
  it.reset();
  while (it.hasNext()) {
    const v = it.next();
    if (v.countAtValueIteratedTo > 0) out.recordValueWithCount(v.valueIteratedTo * factor, v.countAtValueIteratedTo);
  }
  return hdr.encodeIntoCompressedBase64(out);
}

export class AgentSite implements SiteDriver {
  readonly name: string;
  private readonly client: AgentClient;
  private offsetMs = 0;
  private readonly controller: string;
  private readonly profiles = new Map<string, ApplyRequest['profile']>();
  private readonly makeClient: (timeoutMs: number) => AgentClient;
  /** How often `fault()` asks whether the fault ended (ms). */
  private readonly pollMs: number;

  constructor(agent: AgentSpec, opts: { controller?: string; client?: AgentClient; pollMs?: number } = {}) {
    this.name = agent.name;
    // An injected client (tests) serves every call, the long ones included.
    this.makeClient = opts.client ? () => opts.client as AgentClient : (timeoutMs) => new AgentClient(agent.url, { ...(agent.token ? { token: agent.token } : {}), timeoutMs });
    this.client = opts.client ?? this.makeClient(10_000);
    this.pollMs = opts.pollMs ?? 100;
    this.controller = opts.controller ?? 'backhaul-campaign';
  }

  setClockOffset(offsetMs: number): void {
    this.offsetMs = offsetMs;
  }

  private local(agentMs: number): number {
    return agentMs - this.offsetMs;
  }

  async preflight(): Promise<SitePreflight> {
    const pf: SitePreflight = { reachable: false, authorised: false, backends: [], faults: [], reflector: null, problems: [] };
    try {
      const h = await this.client.health();
      pf.reachable = true;
      pf.version = h.version;
      if (!h.guard.alive) pf.problems.push('its revert guard is not running');
    } catch (e) {
      pf.problems.push((e as Error).message);
      return pf;
    }
    try {
      await this.client.listImpairments();
      pf.authorised = true;
      const caps = await this.client.capabilities();
      pf.backends = caps.backends;
      pf.faults = caps.faults ?? [];
      pf.hooks = caps.hooks ?? [];
      const r = await this.client.reflector();
      if (r.enabled && r.port) {
        const host = !r.address || r.address === '0.0.0.0' || r.address === '::' ? new URL(this.client.baseUrl).hostname : r.address;
        pf.reflector = `${host.includes(':') ? `[${host}]` : host}:${r.port}`;
      }
    } catch (e) {
      if (isBackhaulError(e) && (e.code === 'ERR_UNAUTHORIZED' || e.code === 'ERR_FORBIDDEN')) pf.problems.push(`token refused: ${e.message}`);
      else pf.problems.push((e as Error).message);
    }
    return pf;
  }

  async missingProfiles(names: string[]): Promise<string[]> {
    const known = new Set((await this.client.listProfiles()).map((p) => p.name));
    return names.filter((n) => !known.has(n));
  }

  async apply(req: ApplyRequest, signal?: AbortSignal): Promise<{ id: string; appliedAtMs: number }> {
    const t = req.impairment.target;
    const ref = req.impairment.profile;
    // The agreed start in the agent's clock (agent = controller + offset); the agent waits for it,
    // so the request needs a timeout beyond the wait.
    const startAt = req.startAtMs === undefined ? undefined : Math.round(req.startAtMs + this.offsetMs);
    const waitMs = req.startAtMs === undefined ? 0 : Math.max(0, req.startAtMs - Date.now());
    const client = waitMs > 0 ? this.makeClient(waitMs + 10_000) : this.client;
    const view = await client.createImpairment(
      {
        target: t.kind === 'relay' ? { kind: 'relay', proto: t.proto, listen: t.listen, upstream: t.upstream } : { kind: 'netem', dev: t.dev, ...(t.netns ? { netns: t.netns } : {}) },
        profile: 'name' in ref ? ref.name : ref.inline,
        direction: req.impairment.direction,
        ...(req.impairment.match ? { match: req.impairment.match } : {}),
        ...(req.impairment.exclude ? { exclude: req.impairment.exclude } : {}),
        ttl: req.ttlMs,
        controller: this.controller,
        labels: { campaign: req.campaign, step: req.step },
        ...(startAt !== undefined ? { startAt } : {}),
      },
      signal,
    );
    this.profiles.set(view.id, req.profile);
    return { id: view.id, appliedAtMs: this.local(view.appliedAtMs ?? view.createdAtMs) };
  }

  async renew(id: string, ttlMs: number): Promise<void> {
    await this.client.renewImpairment(id, { ttl: ttlMs, controller: this.controller });
  }

  async inEffect(id: string): Promise<InEffectReading> {
    const v = await this.client.getImpairment(id);
    const h = v.notInEffect; // absent on agents before the history
    if (!h) return { now: v.inEffect };
    const open = h.sinceMs !== null ? Math.max(0, Date.now() + this.offsetMs - h.sinceMs) : 0;
    return { now: v.inEffect, gaps: { count: h.count, totalMs: h.totalMs + open, lastAtMs: h.lastAtMs === null ? null : this.local(h.lastAtMs) } };
  }

  async phases(id: string): Promise<PhaseRecord[]> {
    const v = await this.client.getImpairment(id);
    const profile = this.profiles.get(id) ?? v.profile;
    const sw = v.phaseSwitches;
    return sw.map((s, i) => {
      const ph = profile.schedule?.phases[s.index];
      const all = (x: { loss?: unknown } | undefined): boolean => {
        const l = x?.loss as { model?: string; pct?: number } | undefined;
        return l?.model === 'random' && (l.pct ?? 0) >= 100;
      };
      const next = sw[i + 1];
      return { name: s.name, startMs: this.local(s.actualAtMs), endMs: next ? this.local(next.actualAtMs) : Number.POSITIVE_INFINITY, outage: all(ph?.egress as never) || all(ph?.ingress as never) };
    });
  }

  async revert(id: string): Promise<void> {
    try {
      await this.client.deleteImpairment(id, { controller: this.controller });
    } catch (e) {
      if (!(isBackhaulError(e) && e.code === 'ERR_NOT_FOUND')) throw e;
    }
    this.profiles.delete(id);
  }

  async clearAll(): Promise<number> {
    return (await this.client.clearAll({ force: true })).length;
  }

  async fault(f: FaultSpec, signal?: AbortSignal): Promise<{ startMs: number; endMs: number }> {
    if ('netns' in f && f.netns) throw new BackhaulError('ERR_UNSUPPORTED', `agent ${this.name}: a fault with 'netns' runs on the controller's host`, { fault: f.name });
    const req =
      f.kind === 'flap'
        ? { kind: 'flap' as const, dev: f.dev, downMs: f.downForMs, upMs: f.upForMs, count: f.count }
        : f.kind === 'link-down'
          ? { kind: 'link-down' as const, dev: f.dev, durationMs: f.durationMs }
          : { kind: 'blackhole' as const, peer: f.peer, durationMs: f.durationMs };
    let view = await this.client.createFault({ ...req, ...(f.agentNetns ? { netns: f.agentNetns } : {}), controller: this.controller });
    const stop = (): void => void this.client.stopFault(view.id).catch(() => undefined);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      while (view.state !== 'ended') {
        if (signal?.aborted) {
          view = await this.client.stopFault(view.id);
          break;
        }
        await new Promise((r) => setTimeout(r, Math.min(this.pollMs, Math.max(1, view.endsAtMs - this.offsetMs - Date.now()))));
        view = await this.client.getFault(view.id);
      }
    } finally {
      signal?.removeEventListener('abort', stop);
    }
    if (view.error) throw new BackhaulError('ERR_TC_FAILED', `agent ${this.name}: fault ${f.name}: ${view.error}`, { fault: f.name });
    return { startMs: this.local(view.startedAtMs), endMs: this.local(view.endedAtMs ?? view.endsAtMs) };
  }

  async runHook(h: AgentHookSpec, ctx: { campaign: string; step: string; stepEndMs: number }, signal?: AbortSignal): Promise<HookResult> {
    const client = this.makeClient(h.timeoutMs + 15_000);
    return client.runHook(h.hook, { campaign: ctx.campaign, step: ctx.step, stepEndMs: ctx.stepEndMs + this.offsetMs }, signal);
  }

  async startProbe(p: { name: string; intervalMs: number; timeoutMs: number }, target: string, durationMs: number): Promise<SiteProbeRun> {
    const view = await this.client.startProbe({ target, name: p.name, intervalMs: p.intervalMs, timeoutMs: p.timeoutMs, durationMs });
    const read = async (final: boolean): Promise<{ summary: ProbeSummary; histogramNs: string | null }> => {
      const v = final ? await this.client.stopProbe(view.id) : await this.client.getProbe(view.id);
      const summary = v.summary as unknown as ProbeSummary;
      summary.outages = (summary.outages ?? []).map((o) => ({ ...o, startMs: this.local(o.startMs), endMs: this.local(o.endMs) }));
      let histogramNs: string | null = null;
      try {
        const h = await this.client.probeHistogram(view.id);
        histogramNs = rescaleHistogram(h.encoded, h.unit === 'us' ? 1000 : 1);
      } catch (e) {
        if (isBackhaulError(e) && e.code === 'ERR_UNREACHABLE') throw e;
      }
      return { summary, histogramNs };
    };
    let stopped: Promise<{ summary: ProbeSummary; histogramNs: string | null }> | null = null;
    return {
      snapshot: () => read(false),
      stop: () => (stopped ??= read(true)),
    };
  }

  async close(): Promise<void> {
    /* stateless client */
  }
}
