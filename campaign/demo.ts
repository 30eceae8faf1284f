/**
 * `backhaul demo`: the whole product in one command, no root, no services.
 *
 *   probe session --> relay (profile of the step) --> reflector      all on 127.0.0.1, in process
 *   steps: fibre -> lte-cell-edge -> geo-satellite -> fibre with a 2.5 s blackhole (failover)
 *
 * Runs the bundled demo campaign through the same runner as `campaign run` (an in-process site
 * behind the SiteDriver interface), serves /metrics while it runs, writes every report, and
 * checks from the measurements that p50 is ordered fibre < LTE < satellite and that the injected
 * outage was matched.
 */
import { createServer, type Server } from 'node:http';
import { createSocket } from 'node:dgram';
import { Counter, Gauge, Registry } from 'prom-client';
import { loadProfile } from '../agent/profile-library.js';
import { CAMPAIGN_METRICS, PROBE_METRICS } from '../core/metric-names.js';
import { writeReports, type ReportPaths } from './reports/index.js';
import type { CampaignResult } from './result.js';
import { runCampaign, type ProgressEvent } from './runner.js';
import { InProcessSite } from './sites/in-process.js';
import { parseCampaign, type Campaign } from './spec.js';

export interface DemoOptions {
  outDir: string;
  /** ADDR:PORT for /metrics (default 127.0.0.1:0, an ephemeral port). */
  metricsListen?: string;
  /** Length of each step (default 12 s: about a minute in all). */
  stepMs?: number;
  signal?: AbortSignal;
  onProgress?(e: ProgressEvent): void;
  onMetrics?(url: string): void;
}

export interface DemoOutcome {
  result: CampaignResult;
  reports: ReportPaths;
  metricsUrl: string;
  /** The demo's own checks from measurement: p50 order and the matched outage. */
  checks: { name: string; passed: boolean; detail: string }[];
  exitCode: 0 | 1 | 2;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** The bundled demo campaign, addressed to a reflector at `reflector` (validated like any file). */
export async function demoCampaign(reflector: string, stepMs: number): Promise<Campaign> {
  const secs = `${stepMs / 1000}s`;
  const relay = async (): Promise<{ listen: string; upstream: string }> => ({ listen: `127.0.0.1:${await freeUdpPort()}`, upstream: reflector });
  const probe = (listen: string): Record<string, unknown> => ({ name: 'store-to-dc', from: 'site', to: listen, interval: '20ms', timeout: '2s' });
  const [r1, r2, r3, r4] = [await relay(), await relay(), await relay(), await relay()];
  const raw = {
    name: 'demo',
    description: 'A store on fibre, then on a congested LTE cell edge, then on a GEO satellite, then a failover outage on fibre: measured through the userspace relay on loopback.',
    agents: [{ name: 'site', url: 'in-process' }],
    leaseTtl: '15s',
    startDelay: '500ms',
    steps: [
      { name: 'fibre', duration: secs, impairments: [{ name: 'wan', agent: 'site', relay: r1, profile: 'fibre-business' }], probes: [probe(r1.listen)], assertions: ['rtt.p50 < 20ms', 'loss < 1%', 'outage.count == 0'] },
      { name: 'lte-cell-edge', duration: secs, impairments: [{ name: 'wan', agent: 'site', relay: r2, profile: 'lte-cell-edge' }], probes: [probe(r2.listen)], assertions: ['rtt.p50 > 100ms', 'rtt.p50 < 400ms', 'loss < 10%'] },
      { name: 'geo-satellite', duration: secs, impairments: [{ name: 'wan', agent: 'site', relay: r3, profile: 'geo-satellite' }], probes: [probe(r3.listen)], assertions: ['rtt.p50 > 500ms', 'rtt.p99 < 1s', 'loss < 2%'] },
      {
        name: 'failover',
        duration: secs,
        impairments: [{ name: 'wan', agent: 'site', relay: r4, profile: 'fibre-business' }],
        faults: [{ kind: 'blackhole', agent: 'site', peer: '127.0.0.1/32', at: `${Math.round(stepMs / 3)}ms`, duration: '2500ms' }],
        probes: [probe(r4.listen)],
        assertions: ['outage.count == 1', 'failover.unmatched == 0', 'outage.unexpected == 0', 'failover.outage > 2s', 'failover.outage < 3s'],
      },
    ],
  };
  return parseCampaign(raw, 'demo (bundled)', { env: {} });
}

function serveMetrics(registry: Registry, listen: string): Promise<{ server: Server; url: string }> {
  const m = /^(.*):(\d+)$/.exec(listen);
  const host = (m?.[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  const port = Number(m?.[2] ?? 0);
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: Error) => res.writeHead(500).end(e.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      resolve({ server, url: `http://${host.includes(':') ? `[${host}]` : host}:${p}/metrics` });
    });
  });
}

export async function runDemo(opts: DemoOptions): Promise<DemoOutcome> {
  const registry = new Registry();
  const sent = new Counter({ name: PROBE_METRICS.sentTotal, help: 'Probes sent', labelNames: ['target', 'probe'], registers: [registry] });
  const lost = new Counter({ name: PROBE_METRICS.lostTotal, help: 'Probes lost (round trip)', labelNames: ['target', 'probe'], registers: [registry] });
  const p50 = new Gauge({ name: 'backhaul_demo_probe_rtt_p50_seconds', help: 'RTT median over the last second (demo live view)', labelNames: ['probe'], registers: [registry] });
  const stepInfo = new Gauge({ name: CAMPAIGN_METRICS.stepInfo, help: 'The campaign step in progress (1)', labelNames: ['campaign', 'step', 'impairment'], registers: [registry] });
  const { server, url } = await serveMetrics(registry, opts.metricsListen ?? '127.0.0.1:0');
  opts.onMetrics?.(url);
  // 'sleep' timers: the demo must not burn a core (and must not be starved by its own spinning).
  const site = new InProcessSite('site', { registry, timer: 'sleep' });
  try {
    const reflector = await site.start();
    const campaign = await demoCampaign(reflector, opts.stepMs ?? 12_000);
    const last = new Map<string, { sent: number; lostTicks: number }>();
    const result = await runCampaign(campaign, {
      connect: () => site,
      resolveProfile: (ref) => ('name' in ref ? loadProfile(ref.name) : Promise.reject(new Error('the demo uses named profiles'))),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (e) => {
        if (e.type === 'step-start') {
          stepInfo.reset();
          stepInfo.set({ campaign: 'demo', step: e.step, impairment: 'wan' }, 1);
        }
        if (e.type === 'tick') {
          for (const p of e.probes) {
            const prev = last.get(e.step + p.name) ?? { sent: 0, lostTicks: 0 };
            sent.inc({ target: e.step, probe: p.name }, Math.max(0, p.sent - prev.sent));
            last.set(e.step + p.name, { sent: p.sent, lostTicks: 0 });
            lost.inc({ target: e.step, probe: p.name }, Math.max(0, Math.round(p.loss * Math.max(0, p.sent - prev.sent))));
            if (p.p50Ms !== null) p50.set({ probe: p.name }, p.p50Ms / 1000);
          }
        }
        opts.onProgress?.(e);
      },
    });
    const reports = await writeReports(result, opts.outDir);
    const checks = demoChecks(result);
    const exitCode = result.exitCode !== 0 ? result.exitCode : checks.every((c) => c.passed) ? 0 : 1;
    return { result, reports, metricsUrl: url, checks, exitCode };
  } finally {
    await site.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The demo's verdicts from measurement: p50 order across steps, and the matched outage. */
export function demoChecks(r: CampaignResult): { name: string; passed: boolean; detail: string }[] {
  const p50 = (step: string): number | null => r.steps.find((s) => s.name === step)?.probes[0]?.summary?.rttMs.p50 ?? null;
  const [f, l, g] = [p50('fibre'), p50('lte-cell-edge'), p50('geo-satellite')];
  const ordered = f !== null && l !== null && g !== null && f < l && l < g;
  const fo = r.steps.find((s) => s.name === 'failover')?.probes[0]?.failover;
  const m = fo?.matches.find((x) => x.event.kind === 'fault');
  return [
    { name: 'p50 ordered fibre < LTE < satellite', passed: ordered, detail: `fibre ${f?.toFixed(1) ?? '-'} ms, LTE ${l?.toFixed(1) ?? '-'} ms, satellite ${g?.toFixed(1) ?? '-'} ms` },
    {
      name: 'injected outage matched',
      passed: Boolean(m?.matched) && (fo?.unexpected.length ?? 1) === 0,
      detail: m?.matched ? `outage ${m.outageMs.toFixed(0)} +/- ${m.outageBoundMs.toFixed(0)} ms for a 2500 ms blackhole, recovered ${m.recoverMs?.toFixed(0)} ms after injection` : 'no outage matched the blackhole',
    },
  ];
}
