import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { startReflector, type Reflector } from '../../../probe/reflector.js';
import { startProbeSession } from '../../../probe/session.js';
import { registerProbeMetrics, registerReflectorMetrics, serveMetrics } from '../../../probe/exporters/prometheus.js';
import { LATENCY_BUCKETS_SECONDS, PROBE_METRICS } from '../../../core/metric-names.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  if (!line) throw new Error(`no series ${series}\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe('Prometheus export', () => {
  it('two sessions share one registry; values match the summaries; unregister removes a session', async () => {
    const r: Reflector = await startReflector({ host: '127.0.0.1', port: 0, ratePps: 0 });
    cleanup.push(() => r.close());
    const registry = new Registry();
    registerReflectorMetrics(r, registry);
    // 5 s reply timeout: probes and reflector share this process, and "nothing lost" must not
    // depend on its event loop never stalling for the default 1 s.
    const a = await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 2, count: 100, name: 'a', timeoutMs: 5000 });
    const b = await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 3, count: 50, name: 'b', timeoutMs: 5000 });
    const ha = registerProbeMetrics(a, registry);
    const hb = registerProbeMetrics(b, registry);
    const [sa, sb] = await Promise.all([a.done, b.done]);
    ha.update();
    hb.update();
    const text = await registry.metrics();
    const la = `{target="127.0.0.1:${r.address.port}",probe="a"}`;
    const lb = `{target="127.0.0.1:${r.address.port}",probe="b"}`;
    expect(value(text, `${PROBE_METRICS.sentTotal}${la}`)).toBe(sa.sent);
    expect(value(text, `${PROBE_METRICS.sentTotal}${lb}`)).toBe(sb.sent);
    expect(value(text, `${PROBE_METRICS.receivedTotal}${la}`)).toBe(sa.received);
    expect(value(text, `${PROBE_METRICS.lostTotal}${la}`)).toBe(0);
    expect(value(text, `${PROBE_METRICS.rttSeconds}_count${la}`)).toBe(sa.received);
    for (const le of LATENCY_BUCKETS_SECONDS) expect(text).toContain(`${PROBE_METRICS.rttSeconds}_bucket{le="${le}",target=`);
    expect(value(text, 'backhaul_reflector_reflected_total')).toBe(150);
    expect(value(text, 'backhaul_exporter_dropped_total{exporter="prometheus"}')).toBe(0);
    ha.unregister();
    const after = await registry.metrics();
    expect(after).not.toContain('probe="a"');
    expect(after).toContain('probe="b"');
  });

  it('serves /metrics over HTTP and passes promtool check metrics', async () => {
    const registry = new Registry();
    const r = await startReflector({ host: '127.0.0.1', port: 0, ratePps: 0 });
    cleanup.push(() => r.close());
    const s = await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 5, count: 20 });
    const h = registerProbeMetrics(s, registry);
    await s.done;
    h.update();
    const server = await serveMetrics('127.0.0.1:0', registry);
    cleanup.push(() => server.close());
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain(`${PROBE_METRICS.sentTotal}{target=`);
    try {
      execFileSync('sh', ['-c', 'command -v promtool'], { stdio: 'ignore' });
    } catch {
      throw new Error('promtool is missing: apt-get install -y --no-install-recommends prometheus (or scripts/install-test-deps.sh)');
    }
    // exit 0 = clean; the linter prints problems and exits non-zero (execFileSync throws)
    const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out).toBe('');
  });
});
