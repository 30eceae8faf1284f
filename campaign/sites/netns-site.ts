/**
 * A site that is a network namespace on the controller's host (labs, CI): `url: netns:NAME`.
 * Probes run inside it as child processes (`ip netns exec NAME node .../netns-probe-child.js`;
 * Node has no setns), reporting a JSON line a second; faults are the controller's `ip -n NAME`
 * ones (local-faults.ts). It has no impairment backend of its own: impair its links with an agent
 * or a fault. Needs root.
 */
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { BackhaulError } from '../../core/errors.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';
import type { FaultSpec } from '../spec.js';
import type { PhaseRecord, SiteDriver, SitePreflight, SiteProbeRun } from './site.js';

const CHILD = fileURLToPath(new URL('./netns-probe-child.js', import.meta.url));

type Report = { summary: ProbeSummary; histogramNs: string | null };

export class NetnsSite implements SiteDriver {
  private readonly children = new Set<ResultPromise>();

  constructor(
    readonly name: string,
    readonly netns: string,
  ) {}

  async preflight(): Promise<SitePreflight> {
    const pf: SitePreflight = { reachable: false, authorised: false, backends: [], faults: [], reflector: null, problems: [] };
    if (process.getuid?.() !== 0) {
      pf.problems.push('a netns: site needs root (ip netns exec)');
      return pf;
    }
    const r = await execa('ip', ['netns', 'exec', this.netns, 'true'], { reject: false });
    if (r.exitCode !== 0) pf.problems.push(`network namespace ${this.netns}: ${String(r.stderr).trim() || 'not found'}`);
    else Object.assign(pf, { reachable: true, authorised: true, version: `netns ${this.netns}` });
    return pf;
  }

  async apply(): Promise<{ id: string; appliedAtMs: number }> {
    throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name} (netns ${this.netns}) has no impairment backend: run an agent in it`);
  }
  async renew(): Promise<void> {}
  async inEffect(): Promise<boolean | null> {
    return null;
  }
  async phases(): Promise<PhaseRecord[]> {
    return [];
  }
  async revert(): Promise<void> {}
  async clearAll(): Promise<number> {
    return 0;
  }
  async fault(f: FaultSpec): Promise<{ startMs: number; endMs: number }> {
    throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.name}: give the fault 'netns: ${this.netns}' so the controller runs it`, { fault: f.name });
  }

  async startProbe(p: { name: string; intervalMs: number; timeoutMs: number; outageMinLost: number }, target: string, durationMs: number): Promise<SiteProbeRun> {
    const cfg = { target, name: p.name, intervalMs: p.intervalMs, timeoutMs: p.timeoutMs, durationMs, outageMinLost: p.outageMinLost, timer: 'sleep' };
    const child = execa('ip', ['netns', 'exec', this.netns, process.execPath, CHILD, JSON.stringify(cfg)], { reject: false, buffer: false, stdin: 'pipe', stderr: 'pipe' });
    this.children.add(child);
    let latest: Report | null = null;
    let buf = '';
    let final: (r: Report) => void = () => undefined;
    const finalP = new Promise<Report>((resolve) => (final = resolve));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as Report & { type: string };
        buf = buf.slice(i + 1);
        latest = { summary: msg.summary, histogramNs: msg.histogramNs };
        if (msg.type === 'final') final(latest);
      }
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += String(c)));
    void child.then((r) => {
      this.children.delete(child);
      if (!latest || r.exitCode !== 0) final(Promise.reject(new BackhaulError('ERR_INTERNAL', `probe in ${this.netns} ended (${r.exitCode ?? r.signal ?? '?'}) without a final report: ${stderr.trim().slice(-500)}`)) as never);
    });
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
  }
}
