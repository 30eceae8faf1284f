import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname } from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusApiError, serveRegistry, startPrometheus, type RunningPrometheus } from './prometheus.js';
import { checkExpressions, checkMetrics } from './promtool.js';

describe('Prometheus harness', () => {
  const registry = new Registry();
  const sent = new Counter({ name: 'harness_sent_total', help: 'Sent.', labelNames: ['target'], registers: [registry] });
  const rtt = new Histogram({ name: 'harness_rtt_seconds', help: 'RTT.', buckets: [0.001, 0.01, 0.1], registers: [registry] });
  let exporter: { server: Server; address: string };
  let prom: RunningPrometheus;

  beforeAll(async () => {
    sent.inc({ target: 'a' }, 7);
    for (const v of [0.0005, 0.005, 0.005, 0.05]) rtt.observe(v);
    exporter = await serveRegistry(registry);
    prom = await startPrometheus({ jobs: [{ job: 'harness', targets: [exporter.address], labels: { site: 's1' } }] });
    await prom.waitForScrapes();
  }, 120_000); // start (<= 30 s) and scrapes (<= 40 s): more than the 60 s default on a loaded host

  afterAll(async () => {
    await prom?.stop();
    await new Promise((r) => exporter?.server.close(r));
  });

  it('scrapes the target with the configured labels', async () => {
    const up = await prom.query('up');
    expect(up).toHaveLength(1);
    expect(up[0]!.metric).toMatchObject({ job: 'harness', instance: exporter.address, site: 's1' });
    expect(up[0]!.value[1]).toBe('1');
  });

  it('returns exported values and metric names', async () => {
    const v = await prom.query('harness_sent_total');
    expect(v.map((s) => [s.metric.target, s.value[1]])).toEqual([['a', '7']]);
    const names = await prom.labelValues('__name__');
    expect(names).toEqual(expect.arrayContaining(['harness_sent_total', 'harness_rtt_seconds_bucket', 'up']));
    const q = await prom.query('histogram_quantile(0.5, sum by (le) (harness_rtt_seconds_bucket))');
    expect(Number(q[0]!.value[1])).toBeCloseTo(0.0055, 10); // 2nd of 4 in (0.001, 0.01]: 0.001 + 0.009 * 0.5
  });

  it('returns an empty result, not an error, for a metric nobody exports', async () => {
    expect(await prom.query('harness_nothing_total')).toEqual([]);
  });

  it('reports parse errors as bad_data', async () => {
    const err = await prom.query('sum(rate(x[1m]) by').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrometheusApiError);
    expect((err as PrometheusApiError).errorType).toBe('bad_data');
  });

  it('stops the process and removes its directory, idempotently', async () => {
    const other = await startPrometheus({ jobs: [] });
    const dir = dirname(other.configFile);
    expect(existsSync(dir)).toBe(true);
    await other.stop();
    await other.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(fetch(`${other.url}/-/ready`)).rejects.toThrow();
  });
});

describe('promtool helpers', () => {
  it('accepts valid expressions and names each invalid one', async () => {
    expect(await checkExpressions([{ where: 'ok', expr: 'sum by (le) (rate(x_bucket[1m]))' }])).toEqual([]);
    const failures = await checkExpressions([
      { where: 'ok', expr: 'up' },
      { where: 'parse', expr: 'sum(rate(x[1m])) by' },
      { where: 'type', expr: 'rate(x)' },
    ]);
    expect(failures.map((f) => f.where)).toEqual(['parse', 'type']);
    expect(failures[1]!.error).toMatch(/range vector/);
  });

  it('flags exposition text that breaks the naming conventions', async () => {
    const clean = await checkMetrics('# HELP a_total A.\n# TYPE a_total counter\na_total 1\n');
    expect([clean.exitCode, clean.stdout + clean.stderr]).toEqual([0, '']);
    const bad = await checkMetrics('# HELP a_ms A.\n# TYPE a_ms counter\na_ms 1\n');
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/_total/);
  });
});
