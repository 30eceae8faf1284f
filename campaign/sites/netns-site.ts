/**
 * A site that is a network namespace on the controller's host (labs, CI): `url: netns:NAME`.
 * Probes run inside it as child processes (`ip netns exec NAME node .../netns-probe-child.js`;
 * Node has no setns), reporting a JSON line a second; faults are the controller's `ip -n NAME`
 * ones (local-faults.ts). Without a backend it cannot impair: impair its links with an agent or a
 * fault. Given the tc/netem backend (`backhaul demo --netns`), it applies profiles to interfaces
 * inside its namespace itself (netem-holder.ts: leases, scheduled profiles followed). Needs root.
 */
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { BackhaulError } from '../../core/errors.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { randomSeed, seededRandom } from '../../core/random.js';
import type { ImpairmentBackend } from '../../agent/backend.js';
import type { FaultSpec } from '../spec.js';
import { NetemHolder } from './netem-holder.js';
import type { ApplyRequest, InEffectReading, PhaseRecord, SiteDriver, SitePreflight, SiteProbeRun } from './site.js';

export interface NetnsSiteOptions {
  /** The tc/netem backend: apply profiles to `dev` targets in this namespace (default netns). */
  netem?: ImpairmentBackend;
  clock?: Clock;
  /** Called with each probe run's latest report (about once a second, and the final one), e.g.
   *  for /metrics; `run` numbers the probe runs this site started (1, 2, ...). */
  onProbeReport?(run: number, r: { summary: ProbeSummary; histogramNs: string | null }, probe: string, target: string): void;
}

const CHILD = fileURLToPath(new URL('./netns-probe-child.js', import.meta.url));

type Report = { summary: ProbeSummary; histogramNs: string | null };

export class NetnsSite implements SiteDriver {
  private readonly children = new Set<ResultPromise>();
  private readonly netem: NetemHolder | null;
  private runs = 0;

  constructor(
    readonly name: string,
    readonly netns: string,
    private readonly opts: NetnsSiteOptions = {},
  ) {
    this.netem = opts.netem ? new NetemHolder(name, opts.netem, opts.clock ?? systemClock, seededRandom(randomSeed())) : null;
  }

  async preflight(): Promise<SitePreflight> {
    const pf: SitePreflight = { reachable: false, authorised: false, backends: [], faults: [], reflector: null, problems: [] };
    if (process.getuid?.() !== 0) {
      pf.problems.push('a netns: site needs root (ip netns exec)');
      return pf;
    }
    const r = await execa('ip', ['netns', 'exec', this.netns, 'true'], { reject: false });
    if (r.exitCode !== 0) pf.problems.push(`network namespace ${this.netns}: ${String(r.stderr).trim() || 'not found'}`);
    else Object.assign(pf, { reachable: true, authorised: true, version: `netns ${this.netns}`, backends: this.netem ? ['netem'] : [] });
    return pf;
  }

  async apply(req: ApplyRequest, signal?: AbortSignal): Promise<{ id: string; appliedAtMs: number }> {
    if (!this.netem) throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name} (netns ${this.netns}) has no impairment backend: run an agent in it`);
    return this.netem.apply(req, this.netns, signal);
  }
  async renew(id: string, ttlMs: number): Promise<void> {
    this.netem?.renew(id, ttlMs);
  }
  async inEffect(id: string): Promise<InEffectReading> {
    return { now: this.netem ? await this.netem.inEffect(id) : null };
  }
  async phases(id: string): Promise<PhaseRecord[]> {
    return this.netem?.phases(id) ?? [];
  }
  async revert(id: string): Promise<void> {
    await this.netem?.revert(id);
  }
  async clearAll(): Promise<number> {
    return this.netem ? this.netem.clearAll() : 0;
  }
  async fault(f: FaultSpec): Promise<{ startMs: number; endMs: number }> {
    throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name}: give the fault 'netns: ${this.netns}' so the controller runs it`, { fault: f.name });
  }

  async startProbe(p: { name: string; intervalMs: number; timeoutMs: number; outageMinLost: number }, target: string, durationMs: number): Promise<SiteProbeRun> {
    const run = ++this.runs;
    const cfg = { target, name: p.name, intervalMs: p.intervalMs, timeoutMs: p.timeoutMs, durationMs, outageMinLost: p.outageMinLost, timer: 'sleep' };
    const child = execa('ip', ['netns', 'exec', this.netns, process.execPath, CHILD, JSON.stringify(cfg)], { reject: false, buffer: false, stdin: 'pipe', stderr: 'pipe' });
    this.children.add(child);
    let latest: Report | null = null;
    let buf = '';
    // Settled once: the child's final line, or its end without one (then rejected). A rejection
    // nobody awaits (the site closed after the step) must not become an unhandled one.
    let settled = false;
    let final: (r: Report) => void = () => undefined;
    let fail: (e: Error) => void = () => undefined;
    const finalP = new Promise<Report>((resolve, reject) => {
      final = (r) => {
        if (settled) return;
        settled = true;
        resolve(r);
      };
      fail = (e) => {
        if (settled) return;
        settled = true;
        reject(e);
      };
    });
    finalP.catch(() => undefined);
    // Resolved by the child's 'started' line (or its end): faults are scheduled after startProbe
    // returns, and a node start inside a namespace can take seconds on a loaded or emulated host.
    let started: () => void = () => undefined;
    const startedP = new Promise<void>((resolve) => (started = resolve));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as Report & { type: string };
        buf = buf.slice(i + 1);
        if (msg.type === 'started') {
          started();
          continue;
        }
        latest = { summary: msg.summary, histogramNs: msg.histogramNs };
        this.opts.onProbeReport?.(run, latest, p.name, target);
        if (msg.type === 'final') final(latest);
      }
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += String(c)));
    void child.then((r) => {
      started();
      this.children.delete(child);
      if (!latest || r.exitCode !== 0) fail(new BackhaulError('ERR_INTERNAL', `probe in ${this.netns} ended (${r.exitCode ?? r.signal ?? '?'}) without a final report: ${stderr.trim().slice(-500)}`));
    });
    await Promise.race([startedP, new Promise((resolve) => setTimeout(resolve, Math.min(durationMs, 60_000)).unref())]);
    return {
      snapshot: async () => {
        if (!latest) throw new BackhaulError('ERR_NOT_FOUND', 'no snapshot yet');
        return latest;
      },
      stop: async () => {
        child.kill('SIGTERM');
        return finalP;
      },
    };
  }

  async close(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    await this.netem?.clearAll();
  }
}
