/**
 * PromQL assertions against a real Prometheus (Debian's package): it scrapes an application
 * metric served here; a campaign step asserts on histogram_quantile over it. One assertion holds
 * and one does not, so the campaign exits 1 with exactly that failure.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../../agent/profile-library.js';
import { runCampaign } from '../../campaign/runner.js';
import { InProcessSite } from '../../campaign/sites/in-process.js';
import { parseCampaign } from '../../campaign/spec.js';

const listenPort = (s: Server): number => (s.address() as { port: number }).port;

describe('PromQL assertions against a real Prometheus', () => {
  let app: Server;
  let prom: ResultPromise;
  let promUrl: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bh-prom-'));
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
    const promPort = await new Promise<number>((ok) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = listenPort(s);
        s.close(() => ok(p));
      });
    });
    promUrl = `http://127.0.0.1:${promPort}`;
    await writeFile(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: app\n    static_configs: [{ targets: ['127.0.0.1:${listenPort(app)}'] }]\n`);
    prom = execa('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { reject: false });
    // Ready once it has scraped the app.
    const deadline = Date.now() + 40_000;
    for (;;) {
      const r = await fetch(`${promUrl}/api/v1/query?query=pos_checkout_seconds_count`).then((x) => x.json() as Promise<{ data?: { result?: unknown[] } }>).catch(() => null);
      if (r?.data?.result?.length) break;
      if (Date.now() > deadline) throw new Error('Prometheus did not come up or scrape (is the prometheus package installed? scripts/install-test-deps.sh)');
      await new Promise((ok) => setTimeout(ok, 300));
    }
  }, 60_000);

  afterAll(async () => {
    prom?.kill('SIGKILL');
    await new Promise<void>((ok) => app?.close(() => ok()));
    await rm(dir, { recursive: true, force: true });
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
