/**
 * Probe sessions run by the agent: API sessions (start/stop through /v1/probes) and standing
 * targets from the config file (an always-on smokeping-style mesh, restarted if they end), all
 * exported on the agent's registry with labels `target` and `probe`. Stopped API sessions stay
 * readable (final summary and histogram) until `keepStopped` newer ones push them out.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { BackhaulError } from '../../core/errors.js';
import { registerProbeMetrics, registerReflectorMetrics, type ProbeMetricsHandle } from '../../probe/exporters/prometheus.js';
import { startReflector, type Reflector } from '../../probe/reflector.js';
import { startProbeSession, type ProbeSession, type ProbeSessionConfig } from '../../probe/session.js';
import type { ProbeHistogram, ProbeView, ReflectorView } from '../api/types.js';
import type { ProbeInput } from '../api/validate.js';
import type { StandingProbe } from '../config.js';
import type { ProbeService, ReflectorService } from './service.js';

interface Entry {
  id: string;
  /** Start order (taken when the start was asked for, before the session's async start). */
  seq: number;
  name: string;
  target: string;
  origin: 'api' | 'standing';
  session: ProbeSession;
  metrics: ProbeMetricsHandle;
  startedAtMs: number;
  stoppedAtMs: number | null;
  final: Record<string, unknown> | null;
}

export interface ProbeSessionsOptions {
  registry: Registry;
  /** Most API sessions running at once (default 32). */
  maxRunning?: number;
  keepStopped?: number;
  start?: (cfg: ProbeSessionConfig) => Promise<ProbeSession>;
  log?: (s: string) => void;
}

export class ProbeSessions implements ProbeService {
  private readonly entries = new Map<string, Entry>();
  private readonly start_: (cfg: ProbeSessionConfig) => Promise<ProbeSession>;
  private stopping = false;
  private seq = 0;

  constructor(private readonly opts: ProbeSessionsOptions) {
    this.start_ = opts.start ?? ((cfg) => startProbeSession(cfg));
  }

  async start(input: ProbeInput): Promise<ProbeView> {
    const running = [...this.entries.values()].filter((e) => e.origin === 'api' && e.stoppedAtMs === null).length;
    if (running >= (this.opts.maxRunning ?? 32)) {
      throw new BackhaulError('ERR_BAD_REQUEST', `at most ${this.opts.maxRunning ?? 32} API probe sessions may run at once`, { running });
    }
    const e = await this.launch('api', {
      target: input.target,
      ...(input.name ? { name: input.name } : {}),
      ...(input.intervalMs !== undefined ? { intervalMs: input.intervalMs } : {}),
      ...(input.durationMs !== undefined ? { durationMs: input.durationMs } : {}),
      ...(input.count !== undefined ? { count: input.count } : {}),
      ...(input.sizeBytes !== undefined ? { sizeBytes: input.sizeBytes } : {}),
      ...(input.timeoutMs !== undefined ? { timeoutMs: input.timeoutMs } : {}),
    });
    return this.view(e);
  }

  /** Start the standing targets of the config file; a failing one is logged and retried every 30 s. */
  startStanding(list: StandingProbe[]): void {
    for (const p of list) void this.keepStanding(p);
  }

  /**
   * Every session in the order its start was asked for (API requests as received, standing targets
   * in the config file's order, a restarted one as of its restart); not in the order the sessions'
   * async starts completed, which varies with concurrent starts (a campaign's probes on one agent).
   */
  list(): ProbeView[] {
    return [...this.entries.values()].sort((a, b) => a.seq - b.seq).map((e) => this.view(e));
  }

  get(id: string): ProbeView {
    return this.view(this.must(id));
  }

  histogram(id: string): ProbeHistogram {
    const h = this.must(id).session.histogram();
    return { id, encoded: h.rtt, encodedFromIntended: h.rttFromIntended, unit: 'ns' };
  }

  async stop(id: string): Promise<ProbeView> {
    const e = this.must(id);
    if (e.origin === 'standing') throw new BackhaulError('ERR_FORBIDDEN', `probe ${id} is a standing target from the agent's config file`, { id });
    await this.finish(e);
    return this.view(e);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.entries.values()].map((e) => this.finish(e)));
  }

  private async keepStanding(p: StandingProbe): Promise<void> {
    while (!this.stopping) {
      try {
        const e = await this.launch('standing', { target: p.target, name: p.name, intervalMs: p.intervalMs, ...(p.sizeBytes !== undefined ? { sizeBytes: p.sizeBytes } : {}) });
        await e.session.done;
        if (this.stopping) return;
        this.opts.log?.(`standing probe ${p.name} ended; restarting`);
      } catch (err) {
        this.opts.log?.(`standing probe ${p.name} (${p.target}): ${(err as Error).message}; retrying in 30 s`);
        await new Promise((r) => setTimeout(r, 30_000).unref());
      }
    }
  }

  private async launch(origin: 'api' | 'standing', cfg: ProbeSessionConfig): Promise<Entry> {
    const seq = ++this.seq;
    const session = await this.start_(cfg);
    const e: Entry = {
      id: `prb-${randomBytes(5).toString('hex')}`, seq, name: session.name, target: session.target.label, origin, session,
      metrics: registerProbeMetrics(session, this.opts.registry), startedAtMs: Date.now(), stoppedAtMs: null, final: null,
    };
    this.entries.set(e.id, e);
    void session.done.then((summary) => {
      e.final = summary as unknown as Record<string, unknown>;
      e.stoppedAtMs ??= Date.now();
      e.metrics.update();
      if (origin === 'standing') {
        e.metrics.unregister();
        this.entries.delete(e.id);
      }
      this.prune();
    }).catch(() => undefined);
    return e;
  }

  private async finish(e: Entry): Promise<void> {
    if (e.final) return;
    e.final = (await e.session.stop()) as unknown as Record<string, unknown>;
    e.stoppedAtMs ??= Date.now();
    e.metrics.update();
  }

  private prune(): void {
    const stopped = [...this.entries.values()].filter((e) => e.stoppedAtMs !== null).sort((a, b) => (a.stoppedAtMs ?? 0) - (b.stoppedAtMs ?? 0) || a.seq - b.seq);
    for (const e of stopped.slice(0, Math.max(0, stopped.length - (this.opts.keepStopped ?? 100)))) {
      e.metrics.unregister();
      this.entries.delete(e.id);
    }
  }

  private must(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new BackhaulError('ERR_NOT_FOUND', `no probe session ${id}`, { id });
    return e;
  }

  private view(e: Entry): ProbeView {
    return {
      id: e.id, name: e.name, target: e.target, origin: e.origin, state: e.final ? 'stopped' : 'running',
      startedAtMs: e.startedAtMs, stoppedAtMs: e.stoppedAtMs,
      summary: e.final ?? (e.session.snapshot() as unknown as Record<string, unknown>),
    };
  }
}

/** The built-in STAMP reflector, exported on the agent's registry. */
export async function startAgentReflector(host: string, port: number, registry: Registry): Promise<ReflectorService & { close(): Promise<void> }> {
  const r: Reflector = await startReflector({ host, port });
  registerReflectorMetrics(r, registry);
  return {
    view: (): ReflectorView => {
      const s = r.stats();
      const counters: Record<string, number> = { received: s.received, reflected: s.reflected, sessions: s.sessions, sources: s.sources };
      for (const [k, v] of Object.entries(s.malformed)) counters[`malformed.${k}`] = v;
      for (const [k, v] of Object.entries(s.dropped)) counters[`dropped.${k}`] = v;
      return { enabled: true, address: r.address.address, port: r.address.port, counters };
    },
    close: () => r.close(),
  };
}
