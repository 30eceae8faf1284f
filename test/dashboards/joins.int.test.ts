/**
 * The dashboards' joins and filters, evaluated by a real Prometheus on known data: two sites
 * export series under the contract of core/metric-names.ts (site A: an agent with two impairments,
 * one from campaign c1, a relay, plus probe sessions; site B: probe sessions only). Complements the live
 * end-to-end test (real agent and probe), which cannot choose its data.
 */
import type { Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_METRICS as A, CAMPAIGN_METRICS as C, LATENCY_BUCKETS_SECONDS, OUTAGE_BUCKETS_SECONDS, PROBE_METRICS as P,
  RELAY_METRICS as R,
} from '../../core/metric-names.js';
import { serveRegistry, startPrometheus, type RunningPrometheus } from '../support/prometheus.js';
import { builtDashboards, recordingRuleQueries, runQueries } from './support/live.js';
import { substitutedQueries } from './support/queries.js';

const INTERVAL_MS = 500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function probeMetrics(registry: Registry): { outages: Counter<string> } {
  const reg = { registers: [registry], labelNames: ['target', 'probe'] as const };
  const rtt = new Histogram({ name: P.rttSeconds, help: 'RTT.', buckets: [...LATENCY_BUCKETS_SECONDS], ...reg });
  for (const v of [0.012, 0.015, 0.018, 0.04, 0.3]) rtt.observe({ target: 'gw', probe: 'stamp' }, v);
  const counters: Array<[string, number]> = [[P.sentTotal, 100], [P.receivedTotal, 97], [P.lostTotal, 3], [P.lateTotal, 1],
    [P.duplicatesTotal, 1], [P.reorderedTotal, 2], [P.missedTotal, 0]];
  for (const [name, v] of counters) new Counter({ name, help: name, ...reg }).inc({ target: 'gw', probe: 'stamp' }, v);
  const outages = new Counter({ name: P.outagesTotal, help: 'Outages.', ...reg });
  outages.inc({ target: 'gw', probe: 'stamp' }, 0);
  const od = new Histogram({ name: P.outageDurationSeconds, help: 'Outage durations.', buckets: [...OUTAGE_BUCKETS_SECONDS], ...reg });
  od.observe({ target: 'gw', probe: 'stamp' }, 1.5);
  new Gauge({ name: P.jitterSeconds, help: 'Jitter.', ...reg }).set({ target: 'gw', probe: 'stamp' }, 0.002);
  return { outages };
}

interface AgentState { phase: string; switches: Counter<string>; phaseInfo: Gauge<string>; info: Gauge<string> }

function agentMetrics(registry: Registry): AgentState {
  const r = [registry];
  const info = new Gauge({ name: A.impairmentInfo, help: 'i', registers: r,
    labelNames: ['impairment', 'iface', 'netns', 'profile', 'backend', 'direction', 'phase'] });
  info.set({ impairment: 'imp-a', iface: 'eth0', netns: '', profile: 'lte', backend: 'netem', direction: 'egress', phase: 'good' }, 1);
  info.set({ impairment: 'imp-b', iface: 'eth1', netns: '', profile: 'sat', backend: 'netem', direction: 'both', phase: '' }, 1);
  const inEffect = new Gauge({ name: A.impairmentInEffect, help: 'e', registers: r, labelNames: ['impairment', 'iface'] });
  inEffect.set({ impairment: 'imp-a', iface: 'eth0' }, 1);
  inEffect.set({ impairment: 'imp-b', iface: 'eth1' }, 0);
  const lease = new Gauge({ name: A.leaseExpiryTimestampSeconds, help: 'l', registers: r, labelNames: ['impairment'] });
  lease.set({ impairment: 'imp-a' }, Date.now() / 1000 + 600);
  lease.set({ impairment: 'imp-b' }, Date.now() / 1000 + 60);
  const phaseInfo = new Gauge({ name: A.phaseInfo, help: 'p', registers: r, labelNames: ['impairment', 'phase'] });
  phaseInfo.set({ impairment: 'imp-a', phase: 'good' }, 1);
  const switches = new Counter({ name: A.phaseSwitchesTotal, help: 's', registers: r, labelNames: ['impairment'] });
  switches.inc({ impairment: 'imp-a' }, 0);
  for (const name of [A.tcPacketsTotal, A.tcBytesTotal, A.tcDropsTotal, A.tcOverlimitsTotal]) {
    new Counter({ name, help: name, registers: r, labelNames: ['impairment', 'iface', 'direction'] })
      .inc({ impairment: 'imp-a', iface: 'eth0', direction: 'egress' }, 10);
  }
  const api = new Counter({ name: A.apiRequestsTotal, help: 'a', registers: r, labelNames: ['method', 'route', 'code'] });
  api.inc({ method: 'GET', route: '/v1/impairments', code: '200' }, 5);
  api.inc({ method: 'POST', route: '/v1/impairments', code: '404' }, 1);
  new Counter({ name: A.reconcileTotal, help: 'r', registers: r, labelNames: ['result'] }).inc({ result: 'in-effect' }, 3);
  new Gauge({ name: A.buildInfo, help: 'b', registers: r, labelNames: ['version'] }).set({ version: '0.1.0' }, 1);
  // As the agent exports it: one series per active fault (a blackhole has iface '').
  const faults = new Gauge({ name: A.faultActive, help: 'f', registers: r, labelNames: ['fault', 'kind', 'iface'] });
  faults.set({ fault: 'flt-1', kind: 'link-down', iface: 'eth0' }, 1);
  faults.set({ fault: 'flt-2', kind: 'blackhole', iface: '' }, 1);
  const relay = { relay: 'r1', direction: 'egress' };
  const packets = new Counter({ name: R.packetsTotal, help: 'p', registers: r, labelNames: ['relay', 'direction', 'stage'] });
  packets.inc({ ...relay, stage: 'in' }, 100);
  packets.inc({ ...relay, stage: 'out' }, 98);
  new Counter({ name: R.bytesTotal, help: 'b', registers: r, labelNames: ['relay', 'direction', 'stage'] }).inc({ ...relay, stage: 'in' }, 4400);
  new Counter({ name: R.dropsTotal, help: 'd', registers: r, labelNames: ['relay', 'direction', 'cause'] }).inc({ ...relay, cause: 'loss' }, 2);
  new Counter({ name: R.duplicatesTotal, help: 'u', registers: r, labelNames: ['relay', 'direction'] }).inc(relay, 1);
  new Gauge({ name: R.queueDepthPackets, help: 'q', registers: r, labelNames: ['relay', 'direction'] }).set(relay, 3);
  new Gauge({ name: R.flows, help: 'f', registers: r, labelNames: ['relay'] }).set({ relay: 'r1' }, 1);
  new Gauge({ name: C.stepInfo, help: 'c', registers: r, labelNames: ['campaign', 'step', 'impairment'] })
    .set({ campaign: 'c1', step: 'lte-baseline', impairment: 'imp-a' }, 1);
  return { phase: 'good', switches, phaseInfo, info };
}

describe('dashboard joins and filters on a live Prometheus', () => {
  const siteA = new Registry();
  const siteB = new Registry();
  const probeA = probeMetrics(siteA);
  probeMetrics(siteB);
  const agentA = agentMetrics(siteA);
  const servers: Array<{ server: Server; address: string }> = [];
  let prom: RunningPrometheus;
  let addrA = '';
  let addrB = '';
  const dashboards = builtDashboards();
  const find = (title: string, values: Record<string, string> = {}): string => {
    const q = substitutedQueries(dashboards, values).find((x) => x.where.includes(`"${title}"`));
    if (!q) throw new Error(`no query titled ${title}`);
    return q.expr;
  };

  beforeAll(async () => {
    servers.push(await serveRegistry(siteA), await serveRegistry(siteB));
    [addrA, addrB] = servers.map((s) => s.address) as [string, string];
    prom = await startPrometheus({ intervalMs: INTERVAL_MS, jobs: [{ job: 'backhaul-agent', targets: [addrA, addrB] }] });
    await prom.waitForScrapes({ scrapes: 3 });
    // Events: an outage on site A and a phase switch good -> bad of imp-a.
    const changedAtMs = Date.now();
    probeA.outages.inc({ target: 'gw', probe: 'stamp' }, 1);
    agentA.switches.inc({ impairment: 'imp-a' }, 1);
    agentA.phaseInfo.reset();
    agentA.phaseInfo.set({ impairment: 'imp-a', phase: 'bad' }, 1);
    agentA.info.remove({ impairment: 'imp-a', iface: 'eth0', netns: '', profile: 'lte', backend: 'netem', direction: 'egress', phase: 'good' });
    agentA.info.set({ impairment: 'imp-a', iface: 'eth0', netns: '', profile: 'lte', backend: 'netem', direction: 'egress', phase: 'bad' }, 1);
    // In the database once a scrape that started after the change has landed (a fixed sleep can
    // end first when Prometheus is slow to scrape on a loaded host); then two rule evaluations.
    await prom.waitForScrapeAfter(changedAtMs + 1);
    await sleep(2 * INTERVAL_MS);
  }, 120_000);

  afterAll(async () => {
    await prom?.stop();
    for (const s of servers) await new Promise((r) => s.server.close(r));
  });

  it('returns a non-empty result for every dashboard query, annotation, variable and recording rule', async () => {
    const queries = [...substitutedQueries(dashboards), ...recordingRuleQueries()];
    const outcomes = await runQueries(prom, queries, { retryEmptyMs: 5_000 });
    expect(outcomes.filter((o) => o.count === 0 || o.error)).toEqual([]);
  });

  it('keeps every site with campaign=All, only campaign members with a campaign selected', async () => {
    const instances = async (campaign: string): Promise<string[]> =>
      (await prom.query(find('Loss ratio by site and target', { campaign }))).map((s) => s.metric.instance!).sort();
    expect(await instances('.*')).toEqual([addrA, addrB].sort());
    expect(await instances('c1')).toEqual([addrA]);
    expect(await instances('c2')).toEqual([]);
  });

  it('filters by profile the same way', async () => {
    const instances = async (profile: string): Promise<string[]> =>
      (await prom.query(find('RTT p50 and p99 by site and target', { profile }))).map((s) => s.metric.instance!).sort();
    expect(await instances('.*')).toEqual([addrA, addrB].sort());
    expect(await instances('sat')).toEqual([addrA]);
    expect(await instances('lte|sat')).toEqual([addrA]);
    expect(await instances('dsl')).toEqual([]);
  });

  it('joins profile and the current phase onto in-effect without changing its value', async () => {
    const rows = (await prom.query(find('Impairment in effect (profile / phase)')))
      .map((s) => ({ impairment: s.metric.impairment, profile: s.metric.profile, phase: s.metric.phase, value: s.value[1] }))
      .sort((a, b) => String(a.impairment).localeCompare(String(b.impairment)));
    expect(rows).toEqual([
      { impairment: 'imp-a', profile: 'lte', phase: 'bad', value: '1' },
      { impairment: 'imp-b', profile: 'sat', phase: undefined, value: '0' },
    ]);
  });

  it('annotates the phase switch with the phase switched to', async () => {
    const agentDash = builtDashboards().find((d) => d.file === 'agent.json')!;
    const q = substitutedQueries([agentDash]).find((x) => x.where.includes('annotation "Phase switch"'))!;
    const events = await prom.query(q.expr);
    expect(events.map((e) => [e.metric.instance, e.metric.impairment, e.metric.phase])).toEqual([[addrA, 'imp-a', 'bad']]);
  });

  it('annotates each active fault with its kind and interface, on the site that has it', async () => {
    for (const file of ['fleet-overview.json', 'probe-detail.json']) {
      const q = substitutedQueries(dashboards.filter((d) => d.file === file)).find((x) => x.where.includes('annotation "Fault"'));
      expect(q, file).toBeDefined();
      const events = (await prom.query(q!.expr)).map((e) => [e.metric.instance, e.metric.kind, e.metric.iface ?? '']).sort();
      expect(events, file).toEqual([[addrA, 'blackhole', ''], [addrA, 'link-down', 'eth0']]);
    }
  });

  it('counts impairments not in effect (and shows lease time left) per site', async () => {
    const notInEffect = await prom.query(find('Impairments NOT in effect'));
    expect(notInEffect.map((s) => s.value[1])).toEqual(['1']);
    const lease = (await prom.query(find('Lease time left'))).map((s) => [s.metric.impairment, Number(s.value[1])]);
    expect(lease).toHaveLength(2);
    const left = new Map(lease as Array<[string, number]>);
    // Set 600 s / 60 s ahead when the test started; it has run for well under a minute.
    expect(left.get('imp-a')).toBeGreaterThan(500);
    expect(left.get('imp-a')).toBeLessThanOrEqual(600);
    expect(left.get('imp-b')).toBeLessThanOrEqual(60);
  });
});
