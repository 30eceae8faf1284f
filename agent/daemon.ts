/**
 * The agent daemon assembled from injected parts (agent/main.ts supplies the real ones; tests
 * supply fakes at the integration tier): manager + lease loop + API server + metrics + events.
 *
 * Lifecycle: `createDaemon()` builds everything (nothing listens yet; `app.inject` works);
 * `listen()` binds; `shutdown()` stops accepting, stops schedules and probes, reverts every
 * impairment, then tells the guard it may exit (only when everything reverted).
 */
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { systemClock } from '../core/clock.js';
import type { AgentBackend } from './agent-backend.js';
import type { AuditSink } from './audit.js';
import { buildServer } from './api/server.js';
import type { AuthConfig } from './api/auth.js';
import type { ProfileCatalog } from './api/routes-info.js';
import type { Capabilities, Health } from './api/types.js';
import { EventBus } from './events.js';
import { ImpairmentManager, type GuardPort, type LeaseConfig, type ManagerHooks, type ProfileResolver } from './impairments/manager.js';
import type { ManagementConfig } from './impairments/management.js';
import type { ImpairmentRecord } from './impairments/record.js';
import type { Journal } from './journal.js';
import { createAgentMetrics, type AgentMetrics, type TcCounters } from './metrics.js';
import type { ProbeService, ReflectorService } from './probes/service.js';
import { dirname, join } from 'node:path';
import { Gauge } from 'prom-client';
import { AGENT_METRICS } from '../core/metric-names.js';
import { FaultJournal } from './faults/fault-journal.js';
import { FaultManager, type CmdRunner } from './faults/fault-manager.js';
import { faultIface } from './faults/fault-plan.js';
import { GuardMux } from './faults/guard-mux.js';
import { HookService, type AgentHookConfig } from './hook-service.js';

export interface DaemonParts {
  version: string;
  backends: Map<'netem' | 'relay', AgentBackend>;
  profiles: ProfileResolver & ProfileCatalog;
  journal: Journal;
  guard: GuardPort & { pid: number | null; alive: boolean; restarts: number; finish?(): Promise<void> };
  auth: AuthConfig;
  audit: AuditSink;
  leases: LeaseConfig;
  management: ManagementConfig;
  capabilities: () => Promise<Omit<Capabilities, 'leases'>>;
  probes?: (ProbeService & { stopAll?(): Promise<void> }) | null;
  reflector?: ReflectorService | null;
  tcCounters?: (rec: ImpairmentRecord) => Promise<TcCounters[]>;
  clock?: Clock;
  events?: EventBus;
  /** The registry /metrics serves (probe sessions and relays export into it too). */
  registry?: Registry;
  hooks?: ManagerHooks;
  bodyLimitBytes?: number;
  metricsAuth?: boolean;
  https?: { key: Buffer | string; cert: Buffer | string };
  leaseCheckMs?: number;
  /** Faults: the command runner (default: execa, no shell) and the management-path lookup. */
  faults?: { run?: CmdRunner; managementDevs?: (peer: string) => Promise<string[]> };
  /** Named hooks from the config file (POST /v1/hooks/:name/run). */
  agentHooks?: Map<string, AgentHookConfig>;
  newId?: () => string;
  /** TEST HOOK only (ManagerDeps.testApplyHoldMs; env BACKHAUL_TEST_APPLY_HOLD_MS). */
  testApplyHoldMs?: number;
  log?: (line: string) => void;
}

export interface Daemon {
  app: FastifyInstance;
  manager: ImpairmentManager;
  faults: FaultManager;
  events: EventBus;
  metrics: AgentMetrics;
  /** Extra hooks (scheduler, reconciler) attach here after construction. */
  hooks: ManagerHooks[];
  shutdown(): Promise<boolean>;
}

export async function createDaemon(parts: DaemonParts): Promise<Daemon> {
  const clock = parts.clock ?? systemClock;
  const events = parts.events ?? new EventBus(() => clock.wallMs());
  const log = parts.log ?? (() => undefined);
  const hooks: ManagerHooks[] = parts.hooks ? [parts.hooks] : [];
  const guardMux = new GuardMux(parts.guard, ['faults', 'impairments']);
  const manager = new ImpairmentManager({
    backends: parts.backends,
    profiles: parts.profiles,
    journal: parts.journal,
    guard: guardMux.port('impairments'),
    clock,
    events,
    leases: parts.leases,
    management: parts.management,
    hooks: {
      onActive: (r) => hooks.forEach((h) => h.onActive?.(r)),
      onRemoved: (r) => hooks.forEach((h) => h.onRemoved?.(r)),
    },
    ...(parts.newId ? { newId: parts.newId } : {}),
    ...(parts.testApplyHoldMs ? { testApplyHoldMs: parts.testApplyHoldMs } : {}),
    onGuardError: (e) => log(`revert guard: ${e.message}`),
  });
  const metrics = createAgentMetrics({ records: () => manager.all(), version: parts.version, ...(parts.tcCounters ? { tcCounters: parts.tcCounters } : {}) }, parts.registry);
  const faults = new FaultManager({
    clock,
    events,
    guard: guardMux.port('faults'),
    journal: new FaultJournal(join(dirname(parts.journal.path), 'faults.json')),
    maxDurationMs: parts.leases.maxTtlMs,
    ...(parts.faults?.run ? { run: parts.faults.run } : {}),
    ...(parts.faults?.managementDevs ? { managementDevs: parts.faults.managementDevs } : {}),
    ...(parts.management.disabled ? { managementDisabled: true } : {}),
    onGuardError: (e) => log(`faults: ${e.message}`),
  });
  new Gauge({
    name: AGENT_METRICS.faultActive,
    help: 'An agent-side fault in effect (1 while active): link down, flap, blackhole',
    labelNames: ['fault', 'kind', 'iface'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const f of faults.active()) this.set({ fault: f.id, kind: f.kind, iface: faultIface(f.request) }, 1);
    },
  });
  const hookService = new HookService(parts.agentHooks ?? new Map());
  const started = clock.monoNs();
  const health = (): Health => ({
    status: 'ok',
    version: parts.version,
    uptimeS: Number((clock.monoNs() - started) / 1_000_000n) / 1000,
    impairments: manager.all().length,
    probes: parts.probes?.list().length ?? 0,
    guard: { pid: parts.guard.pid, alive: parts.guard.alive, restarts: parts.guard.restarts },
  });
  const app = await buildServer({
    auth: parts.auth,
    manager,
    probes: parts.probes ?? null,
    reflector: parts.reflector ?? null,
    audit: parts.audit,
    faults,
    hooks: hookService,
    requestsTotal: metrics.requestsTotal,
    registry: metrics.registry,
    events,
    version: parts.version,
    health,
    capabilities: async () => ({ faults: ['link-down', 'flap', 'blackhole'], ...(await parts.capabilities()), hooks: hookService.names().map((h) => h.name), leases: { ...parts.leases } }),
    profileCatalog: parts.profiles,
    ...(parts.bodyLimitBytes ? { bodyLimitBytes: parts.bodyLimitBytes } : {}),
    ...(parts.metricsAuth ? { metricsAuth: true } : {}),
    ...(parts.https ? { https: parts.https } : {}),
  });
  const leaseLoop = new AbortController();
  const leaseDone = manager.runLeaseLoop(leaseLoop.signal, parts.leaseCheckMs ?? 100);
  let shutdownPromise: Promise<boolean> | null = null;
  const shutdown = (): Promise<boolean> => {
    shutdownPromise ??= (async () => {
      leaseLoop.abort();
      await leaseDone;
      await app.close().catch(() => undefined);
      await parts.probes?.stopAll?.().catch(() => undefined);
      await faults.stopAll().catch(() => undefined);
      const ok = await manager.revertAll('shutdown');
      if (ok) await parts.guard.finish?.();
      else log('some impairments could not be reverted; the revert guard will try when the agent exits');
      await parts.journal.idle();
      return ok;
    })();
    return shutdownPromise;
  };
  return { app, manager, faults, events, metrics, hooks, shutdown };
}
