/**
 * The agent's Prometheus metrics (names from core/metric-names.ts, labels per its LABEL CONTRACT).
 * Everything about impairments is collected at scrape time from the manager's records (no second
 * source of truth); tc counters are read from `tc -s -j` through an injected reader.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { AGENT_METRICS, CAMPAIGN_METRICS } from '../core/metric-names.js';
import type { ImpairmentRecord } from './impairments/record.js';

export interface TcCounters {
  iface: string;
  direction: 'egress' | 'ingress';
  packets: number;
  bytes: number;
  drops: number;
  overlimits: number;
}

export interface AgentMetricsDeps {
  records: () => ImpairmentRecord[];
  /** tc counters of one impairment (empty for the relay); failures read as no series. */
  tcCounters?: (rec: ImpairmentRecord) => Promise<TcCounters[]>;
  version: string;
}

export interface AgentMetrics {
  registry: Registry;
  requestsTotal: Counter<'method' | 'route' | 'code'>;
  reconcileTotal: Counter<'result'>;
}

function iface(rec: ImpairmentRecord): string {
  return rec.target.kind === 'netem' ? rec.target.dev : `${rec.target.proto}:${rec.target.listen}`;
}

export function createAgentMetrics(deps: AgentMetricsDeps, registry = new Registry()): AgentMetrics {
  const active = (): ImpairmentRecord[] => deps.records().filter((r) => r.state !== 'applying');

  new Gauge({
    name: AGENT_METRICS.impairmentInfo,
    help: 'An impairment held by this agent (value 1), with its target, profile and current phase.',
    labelNames: ['impairment', 'iface', 'netns', 'profile', 'backend', 'direction', 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of active()) {
        this.set({
          impairment: r.id, iface: iface(r), netns: r.target.kind === 'netem' ? (r.target.netns ?? '') : '',
          profile: r.profile.name, backend: r.backend, direction: r.direction, phase: r.phase?.name ?? '',
        }, 1);
      }
    },
  });
  new Gauge({
    name: AGENT_METRICS.impairmentInEffect,
    help: '1 when the last check found the impairment on the system, 0 when it vanished (recreated interface, removed qdisc).',
    labelNames: ['impairment', 'iface'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of active()) this.set({ impairment: r.id, iface: iface(r) }, r.inEffect ? 1 : 0);
    },
  });
  new Gauge({
    name: AGENT_METRICS.leaseExpiryTimestampSeconds,
    help: 'When the impairment lease ends (Unix seconds); it is reverted then unless renewed.',
    labelNames: ['impairment'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of active()) this.set({ impairment: r.id }, r.expiresAtMs / 1000);
    },
  });
  new Gauge({
    name: AGENT_METRICS.phaseInfo,
    help: 'The schedule phase now in effect (value 1).',
    labelNames: ['impairment', 'phase'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of active()) if (r.phase) this.set({ impairment: r.id, phase: r.phase.name }, 1);
    },
  });
  new Counter({
    name: AGENT_METRICS.phaseSwitchesTotal,
    help: 'Schedule phase switches applied.',
    labelNames: ['impairment'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of active()) if (r.profile.schedule) this.inc({ impairment: r.id }, r.phaseSwitchCount);
    },
  });
  new Gauge({
    name: CAMPAIGN_METRICS.stepInfo,
    help: 'Impairments created by a campaign step (value 1).',
    labelNames: ['campaign', 'step', 'impairment'],
    registers: [registry],
    collect() {
      this.reset();
      for (const r of active()) {
        const { campaign, step } = r.labels;
        if (campaign !== undefined || step !== undefined) this.set({ campaign: campaign ?? '', step: step ?? '', impairment: r.id }, 1);
      }
    },
  });

  const tcSpecs = [
    ['packets', AGENT_METRICS.tcPacketsTotal, 'Packets through the impairment\'s qdisc (tc -s).'],
    ['bytes', AGENT_METRICS.tcBytesTotal, 'Bytes through the impairment\'s qdisc (tc -s).'],
    ['drops', AGENT_METRICS.tcDropsTotal, 'Packets the impairment\'s qdisc dropped (loss model, queue overflow; ECN marks count here too).'],
    ['overlimits', AGENT_METRICS.tcOverlimitsTotal, 'Overlimit events of the impairment\'s qdisc (rate shaping).'],
  ] as const;
  // One tc read per scrape, shared by the four counters.
  let pending: Promise<Map<string, TcCounters[]>> | null = null;
  const readAll = (): Promise<Map<string, TcCounters[]>> => {
    pending ??= (async () => {
      const out = new Map<string, TcCounters[]>();
      for (const r of active()) {
        if (!deps.tcCounters || r.backend !== 'netem') continue;
        out.set(r.id, await deps.tcCounters(r).catch(() => []));
      }
      return out;
    })().finally(() => setTimeout(() => { pending = null; }, 0));
    return pending;
  };
  for (const [field, name, help] of tcSpecs) {
    new Counter({
      name,
      help,
      labelNames: ['impairment', 'iface', 'direction'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [id, list] of await readAll()) {
          for (const c of list) this.inc({ impairment: id, iface: c.iface, direction: c.direction }, c[field]);
        }
      },
    });
  }

  const requestsTotal = new Counter({
    name: AGENT_METRICS.apiRequestsTotal,
    help: 'API requests by method, route and HTTP status.',
    labelNames: ['method', 'route', 'code'] as const,
    registers: [registry],
  });
  const reconcileTotal = new Counter({
    name: AGENT_METRICS.reconcileTotal,
    help: 'Reconciliation checks by result (in-effect, missing, reapplied, failed).',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: AGENT_METRICS.buildInfo,
    help: 'Agent build information (value 1).',
    labelNames: ['version', 'node'],
    registers: [registry],
    collect() {
      this.set({ version: deps.version, node: process.version }, 1);
    },
  });
  return { registry, requestsTotal, reconcileTotal };
}
