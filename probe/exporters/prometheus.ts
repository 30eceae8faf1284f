/**
 * Prometheus export of probe sessions and reflectors onto a GIVEN prom-client Registry (the agent
 * serves one /metrics for all sessions; the CLI serves its own with `--metrics ADDR`).
 *
 *   session stats ──(1 s tick, off the send path)──> deltas -> counters, gauges;
 *                                                   queued RTT samples -> classic histogram
 *   session 'outage' events ──> outages_total, outage_duration_seconds
 *
 * Names come from core/metric-names.ts; labels `target` and `probe` (the LABEL CONTRACT). Several
 * sessions share one registry: metrics are created once per registry and each session owns its
 * label set, which `unregister()` removes. If the RTT sample queue overflows between ticks (a very
 * fast probe with a stalled exporter), samples are dropped from the Prometheus histogram only and
 * counted in `backhaul_exporter_dropped_total{exporter="prometheus"}`; the summary/JSON figures
 * come from the HdrHistogram and lose nothing.
 */
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  EXPORTER_METRICS, LATENCY_BUCKETS_SECONDS, OUTAGE_BUCKETS_SECONDS, PROBE_LABELS, PROBE_METRICS, REFLECTOR_METRICS,
} from '../../core/metric-names.js';
import { BackhaulError } from '../../core/errors.js';
import type { ProbeSession } from '../session.js';
import type { OutageWindow } from '../stats/outage.js';
import type { Reflector } from '../reflector.js';

type Labels = Record<(typeof PROBE_LABELS)[number], string>;

function getOrCreate<T>(reg: Registry, name: string, make: () => T): T {
  return (reg.getSingleMetric(name) as T | undefined) ?? make();
}

function probeMetrics(reg: Registry) {
  const labelNames = [...PROBE_LABELS];
  const counter = (name: string, help: string): Counter<string> =>
    getOrCreate(reg, name, () => new Counter({ name, help, labelNames, registers: [reg] }));
  const gauge = (name: string, help: string): Gauge<string> =>
    getOrCreate(reg, name, () => new Gauge({ name, help, labelNames, registers: [reg] }));
  return {
    rtt: getOrCreate(reg, PROBE_METRICS.rttSeconds, () => new Histogram({
      name: PROBE_METRICS.rttSeconds, help: 'Probe round-trip time (reflector dwell subtracted), seconds.',
      labelNames, buckets: [...LATENCY_BUCKETS_SECONDS], registers: [reg],
    })),
    outageDuration: getOrCreate(reg, PROBE_METRICS.outageDurationSeconds, () => new Histogram({
      name: PROBE_METRICS.outageDurationSeconds, help: 'Outage windows (>= N consecutive lost probes): estimated duration, seconds (+/- one interval).',
      labelNames, buckets: [...OUTAGE_BUCKETS_SECONDS], registers: [reg],
    })),
    sent: counter(PROBE_METRICS.sentTotal, 'Probes sent.'),
    received: counter(PROBE_METRICS.receivedTotal, 'Probes answered within the timeout (first copies).'),
    lost: counter(PROBE_METRICS.lostTotal, 'Probes not answered within the timeout (includes late).'),
    late: counter(PROBE_METRICS.lateTotal, 'Replies that arrived after their timeout (already counted lost).'),
    duplicates: counter(PROBE_METRICS.duplicatesTotal, 'Duplicate replies.'),
    reordered: counter(PROBE_METRICS.reorderedTotal, 'Replies reordered per RFC 4737.'),
    missed: counter(PROBE_METRICS.missedTotal, 'Send slots skipped because the sender was late (not network loss).'),
    outages: counter(PROBE_METRICS.outagesTotal, 'Outage windows (>= N consecutive lost probes).'),
    jitter: gauge(PROBE_METRICS.jitterSeconds, 'RFC 3550 interarrival jitter of the round trip, seconds.'),
    lossRatio: gauge(PROBE_METRICS.lossRatio, 'Lost / (received + lost) over the session.'),
    dropped: getOrCreate(reg, EXPORTER_METRICS.droppedTotal, () => new Counter({
      name: EXPORTER_METRICS.droppedTotal, help: 'Samples or snapshots an exporter dropped instead of blocking the probe.',
      labelNames: ['exporter'], registers: [reg],
    })),
  };
}

export interface ProbeMetricsHandle {
  /** Push what changed since the last update (called every tickMs and when the session ends). */
  update(): void;
  /** Stop updating and remove this session's series. Idempotent. */
  unregister(): void;
}

export function registerProbeMetrics(session: ProbeSession, registry: Registry, opts: { tickMs?: number } = {}): ProbeMetricsHandle {
  const m = probeMetrics(registry);
  const labels: Labels = { target: session.target.label, probe: session.name };
  const last = { sent: 0, received: 0, lost: 0, late: 0, duplicates: 0, reordered: 0, missed: 0, dropped: 0 };
  for (const c of [m.sent, m.received, m.lost, m.late, m.duplicates, m.reordered, m.missed, m.outages]) c.inc(labels, 0);
  m.rtt.zero(labels);
  m.outageDuration.zero(labels);
  m.dropped.inc({ exporter: 'prometheus' }, 0);
  let active = true;
  session.stats.exportQueueEnabled = true;
  last.dropped = session.stats.exportDropped;

  const update = (): void => {
    if (!active) return;
    const c = session.stats.counts();
    const bump = (k: keyof typeof last, metric: Counter<string>, v: number): void => {
      if (v > last[k]) metric.inc(labels, v - last[k]);
      last[k] = v;
    };
    bump('sent', m.sent, c.sent);
    bump('received', m.received, c.received);
    bump('lost', m.lost, c.lost);
    bump('late', m.late, c.late);
    bump('duplicates', m.duplicates, c.duplicates);
    bump('reordered', m.reordered, c.reordered);
    bump('missed', m.missed, c.missed);
    session.stats.drainRtt((ns) => m.rtt.observe(labels, ns / 1e9));
    const dropped = session.stats.exportDropped;
    if (dropped > last.dropped) m.dropped.inc({ exporter: 'prometheus' }, dropped - last.dropped);
    last.dropped = dropped;
    m.jitter.set(labels, session.stats.jitter.jitterNs / 1e9);
    const resolved = c.received + c.lost;
    m.lossRatio.set(labels, resolved === 0 ? 0 : c.lost / resolved);
  };
  const onOutage = (w: OutageWindow): void => {
    if (!active) return;
    m.outages.inc(labels, 1);
    m.outageDuration.observe(labels, w.durationMs / 1000);
  };
  session.on('outage', onOutage);
  const timer = setInterval(update, opts.tickMs ?? 1000);
  timer.unref();
  void session.done.then(update, () => undefined);

  return {
    update,
    unregister() {
      if (!active) return;
      update();
      active = false;
      session.stats.exportQueueEnabled = false;
      clearInterval(timer);
      session.off('outage', onOutage as (...a: never[]) => void);
      for (const metric of [m.rtt, m.outageDuration, m.sent, m.received, m.lost, m.late, m.duplicates, m.reordered, m.missed, m.outages, m.jitter, m.lossRatio]) {
        metric.remove(labels);
      }
    },
  };
}

/** Reflector counters, read at scrape time (no per-packet cost). */
export function registerReflectorMetrics(reflector: Reflector, registry: Registry): void {
  const gaugeLike = (name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, v: number) => void) => void): void => {
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
    // A Counter with collect(): values are absolute totals owned by the reflector.
    new Counter({
      name, help, labelNames, registers: [registry],
      collect(this: Counter<string>) {
        this.reset();
        read((l, v) => this.inc(l, v));
      },
    });
  };
  gaugeLike(REFLECTOR_METRICS.receivedTotal, 'Datagrams received by the reflector.', [], (set) => set({}, reflector.stats().received));
  gaugeLike(REFLECTOR_METRICS.reflectedTotal, 'Test packets reflected.', [], (set) => set({}, reflector.stats().reflected));
  gaugeLike(REFLECTOR_METRICS.malformedTotal, 'Datagrams ignored as malformed.', ['reason'], (set) => {
    for (const [reason, v] of Object.entries(reflector.stats().malformed)) set({ reason }, v);
  });
  gaugeLike(REFLECTOR_METRICS.droppedTotal, 'Datagrams not answered (size, allow-list, rate limit, send error).', ['reason'], (set) => {
    for (const [reason, v] of Object.entries(reflector.stats().dropped)) set({ reason }, v);
  });
}

/** Serve `registry` on http://ADDR/metrics (ADDR = host:port). Resolves once listening. */
export async function serveMetrics(addr: string, registry: Registry): Promise<{ url: string; close(): Promise<void> }> {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new BackhaulError('ERR_USAGE', `--metrics must be HOST:PORT (got "${addr}")`, { hint: 'e.g. --metrics 127.0.0.1:9464' });
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = Number(m[3]);
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' && req.url !== '/') {
      res.statusCode = 404;
      res.end('not found: try /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.setHeader('Content-Type', registry.contentType);
        res.end(text);
      },
      (e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new BackhaulError('ERR_USAGE', `cannot serve metrics on ${addr}: ${e.message}`, {}, { cause: e })));
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as { address: string; port: number };
  return {
    url: `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}/metrics`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
