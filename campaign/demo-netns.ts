/**
 * The namespaces of `backhaul demo --netns` (root, sch_netem):
 *
 *   netns bh-demo-ID-store                          netns bh-demo-ID-dc
 *     probe (child process)  bhdIDs 10.77.0.1/24 ==veth== bhdIDd 10.77.0.2/24  reflector (child, :862)
 *     netem on bhdIDs: egress + ingress (IFB, created inside the store namespace)
 *
 * Addresses exist inside the two fresh namespaces only. `destroy()` is idempotent and removes both
 * namespaces (their veth ends and IFB with them) and stops the reflector; the caller runs it in a
 * `finally` (errors, Ctrl-C). Prerequisites are checked before anything is created.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { Counter, Histogram, type Registry } from 'prom-client';
import { BackhaulError } from '../core/errors.js';
import type { NetemBackend } from '../agent/netem/netem-backend.js';
import { requireCapabilities } from '../agent/netem/capabilities.js';
import { LATENCY_BUCKETS_SECONDS, PROBE_LABELS, PROBE_METRICS } from '../core/metric-names.js';
import type { ProbeSummary } from '../probe/stats/summary.js';
import { decodeHistogram } from './histogram.js';

const REFLECTOR_CHILD = fileURLToPath(new URL('./sites/netns-reflector-child.js', import.meta.url));

export const NEEDS_ROOT_MESSAGE = 'needs root (network namespaces); run `backhaul demo` without --netns for the no-root demo';

export interface DemoTopology {
  store: string;
  dc: string;
  storeIf: string;
  dcIf: string;
  storeIp: string;
  dcIp: string;
  /** HOST:PORT of the reflector in the dc namespace. */
  reflector: string;
  destroy(): Promise<void>;
}

/**
 * Root first, then the backend's capability probe (scratch namespaces, nothing left behind):
 * exit 3 (ERR_PERMISSION / ERR_CAPABILITY_MISSING) with what to do.
 */
export async function checkNetnsPrerequisites(backend: Pick<NetemBackend, 'capabilities'>, uid: number | undefined = process.getuid?.()): Promise<void> {
  if (uid !== 0) throw new BackhaulError('ERR_PERMISSION', NEEDS_ROOT_MESSAGE, { hint: 'sudo backhaul demo --netns, or backhaul demo' });
  try {
    requireCapabilities(await backend.capabilities(), { netem: true, ifb: true });
  } catch (e) {
    if (!(e instanceof BackhaulError)) throw e;
    // The probe's own message; the hint points at the no-root demo instead of `backhaul relay`.
    const hint = typeof e.details['hint'] === 'string' ? (e.details['hint'] as string).replace(/; or impair in user space instead: .*$/, '') : undefined;
    throw new BackhaulError(e.code, e.message, { ...e.details, hint: `${hint ? `${hint}; ` : ''}or run \`backhaul demo\` without --netns (the userspace relay, no root)` }, { cause: e });
  }
}

async function ip(args: string[]): Promise<void> {
  const r = await execa('ip', args, { reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new BackhaulError('ERR_TC_FAILED', `ip ${args.join(' ')} failed: ${String(r.stderr).trim()}`, { argv: ['ip', ...args] });
}

/** Create the two namespaces, the veth pair and the reflector; on any failure, remove what was made. */
export async function createDemoTopology(opts: { readyTimeoutMs?: number } = {}): Promise<DemoTopology> {
  const id = randomBytes(3).toString('hex');
  const store = `bh-demo-${id}-store`;
  const dc = `bh-demo-${id}-dc`;
  const storeIf = `bhd${id}s`;
  const dcIf = `bhd${id}d`;
  const [storeIp, dcIp] = ['10.77.0.1', '10.77.0.2'];
  const made: string[] = [];
  let reflectorChild: ResultPromise | null = null;
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    reflectorChild?.kill('SIGKILL');
    await reflectorChild?.catch(() => undefined);
    for (const ns of made.reverse()) await execa('ip', ['netns', 'del', ns], { reject: false, timeout: 30_000 });
  };
  try {
    for (const ns of [store, dc]) {
      await ip(['netns', 'add', ns]);
      made.push(ns);
    }
    await ip(['-n', store, 'link', 'add', storeIf, 'type', 'veth', 'peer', 'name', dcIf, 'netns', dc]);
    for (const [ns, dev, addr] of [[store, storeIf, storeIp], [dc, dcIf, dcIp]] as const) {
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev]);
      await ip(['-n', ns, 'link', 'set', 'dev', dev, 'up']);
      await ip(['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    }
    const child = execa('ip', ['netns', 'exec', dc, process.execPath, REFLECTOR_CHILD, dcIp, '862'], { reject: false, buffer: false, stdin: 'pipe', stderr: 'pipe' });
    reflectorChild = child;
    const reflector = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new BackhaulError('ERR_INTERNAL', `the reflector in ${dc} did not start within ${(opts.readyTimeoutMs ?? 60_000) / 1000} s: ${err.trim().slice(-300)}`)), opts.readyTimeoutMs ?? 60_000);
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (c: string) => {
        out += c;
        const line = out.split('\n').find((l) => l.includes('"listening"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { listening: string }).listening);
        }
      });
      child.stderr?.on('data', (c: Buffer) => (err += String(c)));
      void child.then((r) => {
        clearTimeout(timer);
        reject(new BackhaulError('ERR_INTERNAL', `the reflector in ${dc} exited (${r.exitCode ?? r.signal ?? '?'}): ${err.trim().slice(-300)}`));
      });
    });
    return { store, dc, storeIf, dcIf, storeIp, dcIp, reflector, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/**
 * /metrics for probes that run in child processes (NetnsSite): from each report (about once a
 * second; cumulative summary + HdrHistogram of RTTs in ns) the deltas since the run's previous
 * report go to `backhaul_probe_sent_total`, `backhaul_probe_lost_total` and the
 * `backhaul_probe_rtt_seconds` histogram (each newly recorded value observed once per new count,
 * at HdrHistogram's precision: 3 significant digits). Labels: target, probe (the label contract).
 */
export function childProbeMetrics(registry: Registry): (run: number, r: { summary: ProbeSummary; histogramNs: string | null }, probe: string, target: string) => void {
  const labelNames = [...PROBE_LABELS];
  const sent = new Counter({ name: PROBE_METRICS.sentTotal, help: 'Probes sent.', labelNames, registers: [registry] });
  const lost = new Counter({ name: PROBE_METRICS.lostTotal, help: 'Probes not answered within the timeout (includes late).', labelNames, registers: [registry] });
  const rtt = new Histogram({ name: PROBE_METRICS.rttSeconds, help: 'Probe round-trip time (reflector dwell subtracted), seconds.', labelNames, buckets: [...LATENCY_BUCKETS_SECONDS], registers: [registry] });
  const last = new Map<number, { sent: number; lost: number; counts: Map<number, number> }>();
  const series = new Set<string>();
  return (run, r, probe, target) => {
    const labels = { target, probe };
    const prev = last.get(run) ?? { sent: 0, lost: 0, counts: new Map<number, number>() };
    if (!series.has(`${target}\n${probe}`)) {
      series.add(`${target}\n${probe}`);
      sent.inc(labels, 0);
      lost.inc(labels, 0);
      rtt.zero(labels);
    }
    if (r.summary.sent > prev.sent) sent.inc(labels, r.summary.sent - prev.sent);
    if (r.summary.lost > prev.lost) lost.inc(labels, r.summary.lost - prev.lost);
    const counts = new Map(prev.counts);
    if (r.histogramNs) {
      for (const { valueMs: ns, count } of decodeHistogram(r.histogramNs, 1)) {
        const before = prev.counts.get(ns) ?? 0;
        for (let i = before; i < count; i++) rtt.observe(labels, ns / 1e9);
        counts.set(ns, Math.max(before, count));
      }
    }
    last.set(run, { sent: Math.max(prev.sent, r.summary.sent), lost: Math.max(prev.lost, r.summary.lost), counts });
  };
}
