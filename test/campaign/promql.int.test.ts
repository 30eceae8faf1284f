/**
 * PromQL assertions against a real Prometheus (Debian's package): it scrapes an application
 * metric served here; a campaign step asserts on histogram_quantile over it. One assertion holds
 * and one does not, so the campaign exits 1 with exactly that failure.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../../agent/profile-library.js';
import { runCampaign } from '../../campaign/runner.js';
import { InProcessSite } from '../../campaign/sites/in-process.js';
import { parseCampaign } from '../../campaign/spec.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

const listenPort = (s: Server): number => (s.address() as { port: number }).port;

describe('PromQL assertions against a real Prometheus', () => {
  let app: Server;
  let prom: RunningPrometheus | undefined;
  let promUrl: string;

  beforeAll(async () => {
    // The "application": a latency histogram where 90% of requests take <= 0.1 s and the rest <= 0.5 s.
    app = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        [
          '# TYPE pos_checkout_seconds histogram',
          'pos_checkout_seconds_bucket{le="0.1"} 900',
          'pos_checkout_seconds_bucket{le="0.5"} 1000',
          'pos_checkout_seconds_bucket{le="+Inf"} 1000',
          'pos_checkout_seconds_sum 150',
          'pos_checkout_seconds_count 1000',
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((ok) => app.listen(0, '127.0.0.1', ok));
    // The shared launcher: a port no parallel test can take, a retry if one is taken anyway, and a
    // stop() that waits for the process to exit before removing its data directory. A 2 s scrape
    // interval (= timeout): a scrape of this process must not time out while it is busy, which would
    // mark the series stale just when the step-end assertion reads them.
    prom = await startPrometheus({ intervalMs: 2000, jobs: [{ job: 'app', targets: [`127.0.0.1:${listenPort(app)}`] }] });
    promUrl = prom.url;
    // Ready once it has scraped the app.
    const deadline = Date.now() + 40_000;
    while ((await prom.query('pos_checkout_seconds_count').catch(() => [])).length === 0) {
      if (Date.now() > deadline) throw new Error(`Prometheus did not scrape the app within 40 s\n${prom.log()}`);
      await new Promise((ok) => setTimeout(ok, 300));
    }
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await new Promise<void>((ok) => app?.close(() => ok()));
  });

  it('histogram_quantile assertions evaluated at the step end: one holds, one does not (exit 1)', { timeout: 60_000 }, async () => {
    const q = 'histogram_quantile(0.99, sum by (le) (pos_checkout_seconds_bucket))';
    const c = parseCampaign(
      {
        name: 'promql',
        agents: [{ name: 'site', url: 'in-process' }],
        prometheus: promUrl,
        startDelay: '100ms',
        steps: [{ name: 'app', duration: '1s', assertions: [{ promql: q, assert: '< 0.5', name: 'p99-under-500ms' }, { promql: q, assert: '< 300ms', name: 'p99-under-300ms' }] }],
      },
      'promql',
      { env: {} },
    );
    const site = new InProcessSite('site');
    const r = await runCampaign(c, { connect: () => site, resolveProfile: (ref) => loadProfile((ref as { name: string }).name), baselineMs: 0 });
    const a = r.steps[0]!.assertions;
    // p99 interpolated in the (0.1, 0.5] bucket: 0.1 + 0.4 x (990 - 900) / 100 = 0.46
    expect(a.map((x) => [x.target, x.passed])).toEqual([
      ['p99-under-500ms', true],
      ['p99-under-300ms', false],
    ]);
    expect(a[0]!.actual).toBeCloseTo(0.46, 6);
    expect(a[1]!.message).toBe('value = 460 ms, expected < 300 ms');
    expect(r.exitCode).toBe(1);
  });
});
