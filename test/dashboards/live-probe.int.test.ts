/**
 * The probe side of the end-to-end check: the real CLI (`backhaul probe --metrics`, `backhaul
 * reflect --metrics`) on loopback, scraped by a real Prometheus. The probe's and the reflector's
 * /metrics pass `promtool check metrics`; every probe metric the dashboards and rules use is
 * exported; every dashboard query about probe metrics and every recording rule returns data,
 * including the outage panels after a real outage (the reflector is stopped and restarted).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBE_METRICS, REFLECTOR_METRICS } from '../../core/metric-names.js';
import { buildCli, removeCliBuild, startCli, waitForHttp, type CliProcess } from '../support/cli.js';
import { reservePort } from '../support/ports.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { checkMetrics } from '../support/promtool.js';
import { builtDashboards, namesUsedEverywhere, primaryMetricNames, recordingRuleQueries, runQueries } from './support/live.js';
import { substitutedQueries } from './support/queries.js';

const INTERVAL_MS = 500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const probeNames = new Set(Object.values(PROBE_METRICS).flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
const isProbeOnly = (raw: string): boolean => {
  const names = primaryMetricNames(raw);
  return names.length > 0 && names.every((n) => probeNames.has(n));
};

describe('live probe and reflector metrics', () => {
  let udpPort = 0;
  let reflectorMetrics = '';
  let probeMetrics = '';
  let reflector: CliProcess | undefined;
  let probe: CliProcess | undefined;
  let prom: RunningPrometheus | undefined;
  const startReflector = (): CliProcess =>
    startCli(['reflect', '--listen', `127.0.0.1:${udpPort}`, '--metrics', reflectorMetrics]);

  beforeAll(async () => {
    await buildCli();
    // Named before the processes start, and the reflector is restarted on the same ports: ports
    // outside the ephemeral range, which no parallel test's socket can take in between.
    udpPort = await reservePort();
    reflectorMetrics = `127.0.0.1:${await reservePort()}`;
    probeMetrics = `127.0.0.1:${await reservePort()}`;
    reflector = startReflector();
    await waitForHttp(`http://${reflectorMetrics}/metrics`, 20_000, () => reflector!.stderr());
    probe = startCli(['probe', `127.0.0.1:${udpPort}`, '-i', '10ms', '-t', '200ms', '-d', 'inf',
      '--name', 'e2e', '--metrics', probeMetrics]);
    await waitForHttp(`http://${probeMetrics}/metrics`, 20_000, () => probe!.stderr());
    prom = await startPrometheus({
      intervalMs: INTERVAL_MS,
      jobs: [{ job: 'backhaul-probe', targets: [probeMetrics] }, { job: 'backhaul-reflector', targets: [reflectorMetrics] }],
    });
    await prom.waitForScrapes({ scrapes: 2 });
    // An outage: no reflector for 1 s (>= 3 consecutive lost probes at 10 ms), then answers again.
    const outages = async (): Promise<number> =>
      Number((await prom!.query(`sum(${PROBE_METRICS.outagesTotal})`))[0]?.value[1] ?? NaN);
    const outagesBefore = await outages();
    expect(outagesBefore).toBeGreaterThanOrEqual(0);
    await reflector.stop();
    await sleep(1_000);
    reflector = startReflector();
    await waitForHttp(`http://${reflectorMetrics}/metrics`, 20_000, () => reflector!.stderr());
    // The probe exports once a second; give it and Prometheus time to pick the outage up.
    const end = Date.now() + 20_000;
    while (!((await outages()) > outagesBefore)) {
      if (Date.now() > end) throw new Error(`no outage recorded\n${probe.stderr()}`);
      await sleep(250);
    }
    await sleep(3 * INTERVAL_MS);
  }, 180_000); // each wait above has its own deadline; together they may exceed 90 s on a loaded host

  afterAll(async () => {
    await probe?.stop('SIGINT');
    await reflector?.stop();
    await prom?.stop();
    await removeCliBuild();
  });

  it('serves exposition text that `promtool check metrics` accepts without a remark', async () => {
    for (const addr of [probeMetrics, reflectorMetrics]) {
      const text = await (await fetch(`http://${addr}/metrics`)).text();
      expect(text).toContain('backhaul_');
      const r = await checkMetrics(text);
      expect({ addr, exitCode: r.exitCode, output: (r.stdout + r.stderr).trim() }).toEqual({ addr, exitCode: 0, output: '' });
    }
  });

  it('exports every probe metric name the dashboards and rules use', async () => {
    const exported = new Set(await prom!.labelValues('__name__'));
    const used = namesUsedEverywhere().filter((n) => probeNames.has(n));
    expect(used.length).toBeGreaterThan(8);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
    for (const n of Object.values(REFLECTOR_METRICS)) expect(exported).toContain(n);
  });

  it('returns data for every dashboard query about probe metrics and every recording rule', async () => {
    const queries = [
      ...substitutedQueries(builtDashboards()).filter((q) => isProbeOnly(q.raw)),
      ...recordingRuleQueries(),
    ];
    expect(queries.length).toBeGreaterThan(25);
    const outcomes = await runQueries(prom!, queries, { retryEmptyMs: 5_000 });
    expect(outcomes.filter((o) => o.count === 0 || o.error)).toEqual([]);
  });

  it('labels probe series with target and probe (the label contract)', async () => {
    const series = await prom!.series(`${PROBE_METRICS.sentTotal}{job="backhaul-probe"}`);
    expect(series.map((s) => [s.target, s.probe])).toEqual([[`127.0.0.1:${udpPort}`, 'e2e']]);
  });
});
