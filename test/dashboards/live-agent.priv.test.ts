/**
 * End to end: a real Prometheus (Debian 2.42, loopback, the Backhaul rules loaded) scrapes a live
 * `backhaul agent` holding two netem impairments on veths in network namespaces (one scheduled,
 * created with campaign labels; one whose qdisc we delete behind the agent's back), a relay
 * impairment (delay, loss, duplicates), and a probe session of its own through that relay to a
 * `backhaul reflect` (restarted once: a real outage), and an agent-side fault (a blackhole of a
 * documentation prefix in a namespace, held until scraped, then ended: the Fault annotation).
 *
 * Asserts: `promtool check metrics` is silent on the agent's /metrics; every `backhaul_*` name used
 * by dashboards and rules is in /api/v1/label/__name__/values; every dashboard panel query and
 * variable returns data now, every annotation returns events over the run (Grafana evaluates them
 * as range queries), every recording rule returns data and is recorded by Prometheus; the campaign
 * filter keeps the agent's site for its campaign and drops it for another; the outage and
 * not-in-effect alerts go active.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AGENT_METRICS, PROBE_METRICS, RELAY_METRICS } from '../../core/metric-names.js';
import { RULES_FILE } from '../../dashboards/render.js';
import { RECORDED } from '../../dashboards/rules.js';
import { ROOT, buildCli, removeCliBuild, startCli, waitForHttp, waitForOutput, type CliProcess } from '../support/cli.js';
import { reservePort } from '../support/ports.js';
import { twoHosts, type TwoHosts } from '../support/netns.js';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { checkMetrics } from '../support/promtool.js';
import { builtDashboards, namesUsedEverywhere, recordingRuleQueries, runQueries } from './support/live.js';
import { substitutedQueries } from './support/queries.js';

const INTERVAL_MS = 500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, describe: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${describe()}`);
    await sleep(250);
  }
}

describe('dashboards and rules against a live agent and probe', () => {
  let topo: TwoHosts | undefined;
  let dir = '';
  let agent: CliProcess | undefined;
  let reflector: CliProcess | undefined;
  let prom: RunningPrometheus | undefined;
  let agentAddr = '';
  let startSec = 0;
  const logs = (): string => [agent, reflector].map((p) => `${p?.argv.join(' ')}\n${p?.stderr()}`).join('\n')
    + `\nprometheus:\n${prom?.log() ?? ''}`;

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`http://${agentAddr}${path}`, {
      method,
      ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    await buildCli();
    topo = await twoHosts();
    dir = await mkdtemp(join(tmpdir(), 'backhaul-dash-e2e-'));
    agentAddr = `127.0.0.1:${await reservePort()}`;
    await writeFile(join(dir, 'agent.yaml'), stringify({
      listen: agentAddr,
      stateDir: join(dir, 'state'),
      reconcile: { interval: '500ms', reapply: false },
    }));
    agent = startCli(['agent', '--config', join(dir, 'agent.yaml')]);
    // Start-up takes seconds (journal, guard); much longer on a loaded machine.
    await waitForHttp(`http://${agentAddr}/v1/health`, 150_000, logs);

    const scheduled = await api('POST', '/v1/impairments', {
      target: { dev: topo.aIf, netns: topo.a.name },
      direction: 'egress',
      ttl: '10m',
      labels: { campaign: 'e2e', step: 'rate-steps' },
      profile: {
        name: 'e2e-rate-steps',
        description: 'rate-only (htb) schedule, 1 s phases',
        egress: { rate: '10mbit' },
        schedule: { loop: true, phases: [{ name: 'fast', duration: '1s' }, { name: 'slow', duration: '1s', egress: { rate: '2mbit' } }] },
      },
    });
    expect(scheduled.status, JSON.stringify(scheduled.json)).toBe(201);
    const victim = await api('POST', '/v1/impairments', {
      target: { dev: topo.bIf, netns: topo.b.name },
      direction: 'egress',
      ttl: '10m',
      profile: { name: 'e2e-rate', description: 'rate only', egress: { rate: '5mbit' } },
    });
    expect(victim.status, JSON.stringify(victim.json)).toBe(201);
    // An API error (404), so the error panels have a series.
    expect((await api('GET', '/v1/impairments/imp-does-not-exist')).status).toBe(404);

    // The agent's probe session -> the agent's relay impairment (delay, loss, duplicates) -> a reflector.
    const udpPort = await reservePort();
    const relayPort = await reservePort();
    const startReflector = async (): Promise<CliProcess> => {
      const p = startCli(['reflect', '--listen', `127.0.0.1:${udpPort}`]);
      await waitForOutput(p, /reflecting on/, 60_000);
      return p;
    };
    reflector = await startReflector();
    const relayed = await api('POST', '/v1/impairments', {
      target: { kind: 'relay', proto: 'udp', listen: `127.0.0.1:${relayPort}`, upstream: `127.0.0.1:${udpPort}` },
      ttl: '10m',
      labels: { campaign: 'e2e', step: 'relay' },
      profile: { name: 'e2e-relay', description: 'lossy, duplicating relay', egress: { delay: '2ms', loss: '2%', duplicate: '2%' } },
    });
    expect(relayed.status, JSON.stringify(relayed.json)).toBe(201);
    const session = await api('POST', '/v1/probes', {
      target: `127.0.0.1:${relayPort}`, name: 'e2e', intervalMs: 10, timeoutMs: 200, durationMs: 600_000,
    });
    expect(session.status, JSON.stringify(session.json)).toBe(201);

    prom = await startPrometheus({
      intervalMs: INTERVAL_MS,
      ruleFiles: [join(ROOT, RULES_FILE)],
      // The agent reads `tc -s -j` per impairment at scrape time: slower than 500 ms on a loaded machine.
      jobs: [{ job: 'backhaul-agent', targets: [agentAddr], intervalMs: 1_000 }],
    });
    startSec = Date.now() / 1000;
    await prom.waitForScrapes({ scrapes: 3, timeoutMs: 60_000 });

    // Faults: the reflector goes away for 1.5 s (an outage), and imp 2's qdisc is deleted.
    const outages = async (): Promise<number> =>
      Number((await prom!.query(`sum(${PROBE_METRICS.outagesTotal})`))[0]?.value[1] ?? NaN);
    const outagesBefore = await outages();
    expect(outagesBefore).toBeGreaterThanOrEqual(0);
    await reflector.stop();
    await sleep(1_500);
    reflector = await startReflector();
    await topo.b.exec(['tc', 'qdisc', 'del', 'dev', topo.bIf, 'root']);
    // An agent-side fault (the Fault annotation): a blackhole of a documentation prefix inside
    // namespace a (touches no traffic of the test), held until Prometheus has scraped it, then ended.
    const fault = await api('POST', '/v1/faults', { kind: 'blackhole', peer: '192.0.2.0/24', netns: topo.a.name, durationMs: '10m' });
    expect(fault.status, JSON.stringify(fault.json)).toBe(201);
    const faultSel = `${AGENT_METRICS.faultActive}{kind="blackhole",fault="${String(fault.json.id)}"}`;
    await until('the fault in Prometheus', 60_000, async () => (await prom!.query(faultSel)).length > 0, logs);
    const ended = await api('DELETE', `/v1/faults/${String(fault.json.id)}`);
    expect(ended.status, JSON.stringify(ended.json)).toBe(200);
    expect(ended.json.state).toBe('ended');
    await until('the outage, the not-in-effect impairment and the end of the fault in Prometheus', 60_000, async () =>
      (await outages()) > outagesBefore
        && (await prom!.query(`${AGENT_METRICS.impairmentInEffect} == 0`)).length > 0
        && (await prom!.query(faultSel)).length === 0, logs);
    await sleep(3 * INTERVAL_MS);
  }, 300_000);

  afterAll(async () => {
    await reflector?.stop();
    await agent?.stop(); // SIGTERM: the agent reverts its impairments
    await prom?.stop();
    await topo?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
    await removeCliBuild();
  }, 120_000);

  it("serves agent /metrics (impairments, probe session, relay) that `promtool check metrics` accepts without a remark", async () => {
    const text = await (await fetch(`http://${agentAddr}/metrics`)).text();
    for (const name of [AGENT_METRICS.impairmentInfo, PROBE_METRICS.rttSeconds, RELAY_METRICS.packetsTotal]) expect(text).toContain(name);
    const r = await checkMetrics(text);
    expect({ exitCode: r.exitCode, output: (r.stdout + r.stderr).trim() }).toEqual({ exitCode: 0, output: '' });
  });

  it('has every backhaul_* name used by dashboards and rules in /api/v1/label/__name__/values', async () => {
    const exported = new Set(await prom!.labelValues('__name__'));
    const used = namesUsedEverywhere();
    expect(used.length).toBeGreaterThan(20);
    expect(used.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('returns data for every dashboard panel query and variable, and events for every annotation', async () => {
    const all = substitutedQueries(builtDashboards());
    const outcomes = await runQueries(prom!, all.filter((q) => q.kind !== 'annotation'), { retryEmptyMs: 5_000 });
    expect(outcomes.filter((o) => o.count === 0 || o.error)).toEqual([]);
    const now = Date.now() / 1000;
    const empty: string[] = [];
    for (const q of all.filter((x) => x.kind === 'annotation')) {
      const series = await prom!.queryRange(q.expr, startSec, now, 1);
      if (series.length === 0) empty.push(q.where);
    }
    expect(empty).toEqual([]);
  });

  it('returns data for every recording rule, and Prometheus records them', async () => {
    const outcomes = await runQueries(prom!, recordingRuleQueries(), { retryEmptyMs: 5_000 });
    expect(outcomes.filter((o) => o.count === 0 || o.error)).toEqual([]);
    await until('recorded series', 30_000, async () => {
      for (const name of Object.values(RECORDED)) if ((await prom!.query(name)).length === 0) return false;
      return true;
    }, logs);
    const groups = await prom!.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('/api/v1/rules');
    const unhealthy = groups.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
    expect(unhealthy).toEqual([]);
  });

  it('keeps the site for its campaign and drops it for another (join on live data)', async () => {
    const dashboards = builtDashboards();
    const lossFor = async (campaign: string): Promise<number> => {
      const q = substitutedQueries(dashboards, { campaign }).find((x) => x.where.includes('"Loss ratio by site and target"'))!;
      return (await prom!.query(q.expr)).length;
    };
    expect(await lossFor('e2e')).toBe(1);
    expect(await lossFor('another-campaign')).toBe(0);
  });

  it('activates the outage and not-in-effect alerts', async () => {
    await until('alerts', 30_000, async () => {
      const { alerts } = await prom!.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('/api/v1/alerts');
      const names = new Set(alerts.map((a) => a.labels.alertname));
      return names.has('BackhaulProbeOutage') && names.has('BackhaulImpairmentNotInEffect');
    }, logs);
  });
});
