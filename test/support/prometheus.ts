/**
 * A throwaway Prometheus (Debian package `prometheus`, 2.42) for integration tests: started on
 * 127.0.0.1 with a temporary config and data directory, queried through its HTTP API, and torn
 * down (process killed, directory removed) by `stop()`, which is idempotent.
 *
 *   const prom = await startPrometheus({ jobs: [{ job: 'agent', targets: ['127.0.0.1:9464'] }] });
 *   try { await prom.waitForScrapes(); const v = await prom.query('up'); } finally { await prom.stop(); }
 *
 * Timing (measured with 2.42): ready ~70 ms after start, but the first scrape happens only ~5 s
 * later (target updates are batched), so `waitForScrapes()` polls the targets API (default budget
 * 40 s, generous for a loaded machine).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { reservePort } from './ports.js';

export interface ScrapeJob {
  job: string;
  /** host:port, loopback only. */
  targets: string[];
  labels?: Record<string, string>;
  metricsPath?: string;
  /** Scrape interval (= timeout) of this job; default: the global interval. */
  intervalMs?: number;
}

export interface PrometheusOptions {
  jobs: ScrapeJob[];
  /** Scrape and rule evaluation interval (default 500 ms). */
  intervalMs?: number;
  /** Rule files to load (absolute paths). */
  ruleFiles?: string[];
}

export interface Sample { metric: Record<string, string>; value: [number, string] }
export interface RangeSeries { metric: Record<string, string>; values: Array<[number, string]> }
export interface ActiveTarget {
  labels: Record<string, string>; scrapeUrl: string; health: 'up' | 'down' | 'unknown'; lastError: string;
  lastScrape: string;
}

export class PrometheusApiError extends Error {
  constructor(readonly status: number, readonly errorType: string, message: string) {
    super(message);
  }
}

export interface RunningPrometheus {
  url: string;
  configFile: string;
  /** GET an API path (query-string parameters) and return `data` (throws PrometheusApiError on an error envelope). */
  api<T>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  query(expr: string, timeSec?: number): Promise<Sample[]>;
  queryRange(expr: string, startSec: number, endSec: number, stepSec: number): Promise<RangeSeries[]>;
  labelValues(label: string): Promise<string[]>;
  series(match: string): Promise<Array<Record<string, string>>>;
  targets(): Promise<ActiveTarget[]>;
  /** Waits until every configured target has been scraped at least `scrapes` times and is up. */
  waitForScrapes(opts?: { timeoutMs?: number; scrapes?: number }): Promise<ActiveTarget[]>;
  /**
   * Waits until every configured target is up and its last scrape started after `sinceMs` (wall
   * ms): what the exporters held at `sinceMs` is in the database (default budget 30 s).
   */
  waitForScrapeAfter(sinceMs: number, timeoutMs?: number): Promise<ActiveTarget[]>;
  /** Prometheus' own log (stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'prometheus not found: install Debian package `prometheus` ' +
  '(apt-get install -y --no-install-recommends prometheus, see scripts/install-test-deps.sh)';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prometheus config (YAML text) for the given jobs: one static target group per job. */
export function prometheusConfig(opts: PrometheusOptions): string {
  const interval = `${opts.intervalMs ?? 500}ms`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    ...(opts.ruleFiles?.length ? { rule_files: opts.ruleFiles } : {}),
    scrape_configs: opts.jobs.map((j) => ({
      job_name: j.job,
      scrape_interval: j.intervalMs ? `${j.intervalMs}ms` : interval,
      scrape_timeout: j.intervalMs ? `${j.intervalMs}ms` : interval,
      ...(j.metricsPath ? { metrics_path: j.metricsPath } : {}),
      static_configs: [{ targets: j.targets, ...(j.labels ? { labels: j.labels } : {}) }],
    })),
  });
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'backhaul-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(opts));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    // Outside the ephemeral range (see ports.ts); the retry covers anything else holding it.
    const port = await reservePort();
    try {
      return await launch(dir, configFile, port, opts);
    } catch (e) {
      lastError = e;
      if (!/address already in use/.test(String(e))) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(dir: string, configFile: string, port: number, opts: PrometheusOptions): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${port}`;
  let stderr = '';
  let exited = false;
  let child: ResultPromise;
  try {
    child = execa('prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ], { reject: false, buffer: false, stdin: 'ignore' });
  } catch (e) {
    throw new Error(`${INSTALL_HINT}: ${String(e)}`);
  }
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20_000); });
  child.stdout?.resume();
  const done = child.then((r) => {
    exited = true;
    if ((r as { code?: string }).code === 'ENOENT') stderr += INSTALL_HINT;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(killTimer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  async function api<T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of [v].flat()) search.append(k, one);
    const res = await fetch(`${url}${path}?${search.toString()}`, { signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    let json: { status: string; data: T; errorType?: string; error?: string };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new PrometheusApiError(res.status, 'http', `${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    if (json.status !== 'success') {
      throw new PrometheusApiError(res.status, json.errorType ?? '', `${path} ${JSON.stringify(params)}: ${json.error ?? res.status}`);
    }
    return json.data;
  }

  const targets = async (): Promise<ActiveTarget[]> =>
    (await api<{ activeTargets: ActiveTarget[] }>('/api/v1/targets', { state: 'active' })).activeTargets;

  // Ready within a few seconds (~70 ms when idle; allow a loaded machine 30 s), or the process
  // exited (bad config, port taken, binary missing).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`prometheus exited during startup:\n${stderr}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after 30 s:\n${stderr}`);
    }
    await sleep(50);
  }

  const expectedTargets = opts.jobs.reduce((n, j) => n + j.targets.length, 0);
  const intervalMs = Math.max(opts.intervalMs ?? 500, ...opts.jobs.map((j) => j.intervalMs ?? 0));

  return {
    url,
    configFile,
    api,
    query: async (expr, timeSec) =>
      (await api<{ result: Sample[] }>('/api/v1/query', { query: expr, ...(timeSec ? { time: String(timeSec) } : {}) })).result,
    queryRange: async (expr, start, end, step) =>
      (await api<{ result: RangeSeries[] }>('/api/v1/query_range',
        { query: expr, start: String(start), end: String(end), step: String(step) })).result,
    labelValues: (label) => api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values`),
    series: (match) => api<Array<Record<string, string>>>('/api/v1/series', { 'match[]': match }),
    targets,
    async waitForScrapes({ timeoutMs = 40_000, scrapes = 2 } = {}) {
      const end = Date.now() + timeoutMs;
      const firstSeen = new Map<string, number>();
      for (;;) {
        const list = await targets();
        const now = Date.now();
        for (const t of list) {
          if (t.health === 'up' && !firstSeen.has(t.scrapeUrl)) firstSeen.set(t.scrapeUrl, now);
        }
        // `scrapes` scrapes: up once, then (scrapes - 1) more intervals.
        const ready = list.length === expectedTargets && list.every((t) => t.health === 'up' &&
          now - (firstSeen.get(t.scrapeUrl) ?? now) >= (scrapes - 1) * intervalMs);
        if (ready) return list;
        if (now > end) {
          throw new Error(`targets not scraped within ${timeoutMs} ms: ${JSON.stringify(list.map((t) =>
            ({ url: t.scrapeUrl, health: t.health, lastError: t.lastError })))}\n${stderr}`);
        }
        await sleep(200);
      }
    },
    async waitForScrapeAfter(sinceMs, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const list = await targets();
        if (list.length === expectedTargets && list.every((t) => t.health === 'up' && Date.parse(t.lastScrape) > sinceMs)) return list;
        if (Date.now() > end) {
          throw new Error(`targets not scraped after ${new Date(sinceMs).toISOString()} within ${timeoutMs} ms: ${JSON.stringify(list.map((t) =>
            ({ url: t.scrapeUrl, health: t.health, lastScrape: t.lastScrape, lastError: t.lastError })))}\n${stderr}`);
        }
        await sleep(100);
      }
    },
    log: () => stderr,
    stop,
  };
}

/** A tiny exporter of `registry` on loopback (port 0) for Prometheus to scrape; close `server` after. */
export async function serveRegistry(registry: Registry): Promise<{ server: Server; address: string }> {
  const server = createHttpServer((_req, res) => {
    void registry.metrics().then((text) => {
      res.setHeader('content-type', registry.contentType);
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('no address');
  return { server, address: `127.0.0.1:${addr.port}` };
}
