/**
 * The agent's composition root: wires the real parts (netem backend, profile library, journal,
 * revert guard, TLS, tokens, audit log, scheduler, reconciler) from an AgentConfig, explicitly.
 *
 * Start-up order matters for safety:
 *   1. revert what a previous agent left (journal; waits for its guard if that is still reverting)
 *   2. start the revert guard, record its pid in the journal
 *   3. build the API, start leases, schedules and reconciliation, then listen
 * Shutdown (SIGTERM/SIGINT): stop listening, revert everything, release the guard.
 */
import { hostname, release } from 'node:os';
import { execa } from 'execa';
import { Registry } from 'prom-client';
import { join } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { BackhaulError } from '../core/errors.js';
import { systemClock } from '../core/clock.js';
import type { AgentBackend } from './agent-backend.js';
import { isLoopbackHost, loadTokens } from './api/auth.js';
import { FileAuditLog } from './audit.js';
import type { AgentConfig } from './config.js';
import { createDaemon, type Daemon } from './daemon.js';
import { EventBus } from './events.js';
import { RevertGuard } from './guard/guard-client.js';
import { revertJournal, type RecoveryResult } from './impairments/recover.js';
import { Journal, readJournal } from './journal.js';
import { recoverFaultJournal } from './faults/fault-journal.js';
import { NetemAgentBackend } from './netem-agent-backend.js';
import { NetemBackend } from './netem/netem-backend.js';
import { ProbeSessions, startAgentReflector } from './probes/sessions.js';
import { RelayBackend } from './relay/backend.js';
import { libraryProfiles } from './profile-source.js';
import { Reconciler } from './reconciler.js';
import { ScheduleRunner } from './schedule-runner.js';
import { loadTls, selfSignedTls, type TlsMaterial } from './tls.js';

export interface RunningAgent {
  daemon: Daemon;
  /** The bound address, e.g. http://127.0.0.1:8470 */
  url: string;
  tls: TlsMaterial | null;
  recovery: RecoveryResult;
  guard: RevertGuard;
  /** Graceful stop: revert everything; resolves true when all reverted. */
  stop(): Promise<boolean>;
}

export interface StartOptions {
  version: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/**
 * The backends this agent runs, wired explicitly: netem (tc; the guard reverts it if the agent
 * dies) and relay (in-process userspace relays; they die with the agent, and run their own
 * schedules).
 */
export function createBackends(cfg: AgentConfig, registry?: Registry): Map<'netem' | 'relay', AgentBackend> {
  const netem = new NetemAgentBackend(new NetemBackend({ stateDir: join(cfg.stateDir, 'netem') }));
  const relay = new RelayBackend(registry ? { registry } : {});
  return new Map<'netem' | 'relay', AgentBackend>([['netem', netem], ['relay', relay]]);
}

export function journalPath(cfg: Pick<AgentConfig, 'stateDir'>): string {
  return join(cfg.stateDir, 'journal.json');
}

export async function startAgent(cfg: AgentConfig, opts: StartOptions): Promise<RunningAgent> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`backhaul agent: ${line}\n`));
  const tokens = await loadTokens(cfg.tokensFile ?? undefined, env['BACKHAUL_TOKEN']);
  if (!tokens && !isLoopbackHost(cfg.listenHost)) {
    throw new BackhaulError('ERR_USAGE', `refusing to listen on ${cfg.listenHost} without authentication`, {
      hint: 'give a tokens file (--tokens FILE / tokensFile:) or BACKHAUL_TOKEN, or listen on 127.0.0.1',
    });
  }
  await mkdir(cfg.stateDir, { recursive: true, mode: 0o700 });
  const tls = cfg.tls === null ? null : 'selfSigned' in cfg.tls ? await selfSignedTls(cfg.stateDir, [cfg.listenHost]) : await loadTls(cfg.tls.cert, cfg.tls.key);

  const registry = new Registry();
  const backends = createBackends(cfg, registry);
  const recovery = await revertJournal(journalPath(cfg), backends, { log });
  await recoverFaultJournal(join(cfg.stateDir, 'faults.json'), log).catch((e: Error) => log(`faults journal: ${e.message}`));
  const clock = systemClock;
  const events = new EventBus(() => clock.wallMs());
  const guard = new RevertGuard({
    logFile: join(cfg.stateDir, 'guard.log'),
    onRestart: (pid) => {
      log(`revert guard restarted (pid ${pid})`);
      events.emit({ type: 'guard.restarted', pid });
      void journal.setGuardPid(pid).catch(() => undefined);
    },
  });
  guard.start();
  const journal = new Journal(journalPath(cfg), recovery.failed.map((f) => f.entry));
  await journal.setGuardPid(guard.pid);
  const netem = backends.get('netem') as NetemAgentBackend;
  const probes = new ProbeSessions({ registry, log });
  const reflector = cfg.reflector ? await startAgentReflector(cfg.reflector.host, cfg.reflector.port, registry) : null;

  const daemon = await createDaemon({
    version: opts.version,
    backends,
    profiles: libraryProfiles({ dirs: cfg.profileDirs, env }),
    journal,
    guard,
    auth: { tokens },
    audit: new FileAuditLog(cfg.auditLog, (e) => log(`audit log: ${e.message}`)),
    leases: { defaultTtlMs: cfg.defaultTtlMs, maxTtlMs: cfg.maxTtlMs },
    management: { apiPort: cfg.listenPort, sshPorts: cfg.sshPorts, extra: cfg.extraExcludes, disabled: cfg.allowManagementInterface },
    capabilities: async () => {
      const caps = await netem.netem.capabilities().catch(() => null);
      const versions = await netem.netem.versions().catch(() => ({ kernel: release(), iproute2: null }));
      const features: Record<string, boolean> = {};
      if (caps) {
        for (const [k, v] of Object.entries(caps.qdisc)) if (v !== 'unknown') features[`qdisc.${k}`] = v === 'yes';
        for (const k of ['ifb', 'u32', 'mirred'] as const) if (caps[k] !== 'unknown') features[k] = caps[k] === 'yes';
        features['netemSeed'] = caps.netemSeed;
        features['netAdmin'] = caps.netAdmin;
      }
      // A blackhole is an nftables table: offer it only where `nft` runs.
      features['nftables'] = await nftAvailable();
      const faults = features['nftables'] ? (['link-down', 'flap', 'blackhole'] as const) : (['link-down', 'flap'] as const);
      return { backends: [...backends.keys()], kernel: { release: versions.kernel, features }, iproute2Version: versions.iproute2, nodeVersion: process.version, hostname: hostname(), faults: [...faults] };
    },
    tcCounters: (rec) => netem.tcCounters(rec),
    probes,
    reflector,
    registry,
    clock,
    events,
    bodyLimitBytes: cfg.bodyLimitBytes,
    metricsAuth: cfg.metricsAuth,
    agentHooks: cfg.hooks,
    ...testApplyHold(env),
    ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
    log,
  });
  const scheduler = new ScheduleRunner({ manager: daemon.manager, clock, events });
  const reconciler = new Reconciler({
    manager: daemon.manager, events, clock, reconcileTotal: daemon.metrics.reconcileTotal,
    reapply: cfg.reapply, intervalMs: cfg.reconcileIntervalMs, watchLinks: cfg.watchLinks, log,
  });
  daemon.hooks.push(scheduler, reconciler);
  probes.startStanding(cfg.probes);
  // Entries a previous agent left that could not be reverted at start: retry every 30 s until done.
  const orphanIds = new Set(recovery.failed.map((f) => f.entry.id));
  const retryOrphans = async (): Promise<void> => {
    for (const entry of journal.entries().filter((e) => orphanIds.has(e.id))) {
      try {
        await backends.get(entry.backend)?.revert(entry.target);
        await journal.remove(entry.id);
        orphanIds.delete(entry.id);
        log(`reverted ${entry.id}, left by a previous agent`);
      } catch {
        /* still failing; next round */
      }
    }
  };
  const orphanTimer = orphanIds.size ? setInterval(() => void retryOrphans(), 30_000) : null;
  const background = new AbortController();
  const reconciling = reconciler.run(background.signal);

  const address = await daemon.app.listen({ host: cfg.listenHost, port: cfg.listenPort });
  const url = address.replace(/^http:/, tls ? 'https:' : 'http:');
  let stopping: Promise<boolean> | null = null;
  return {
    daemon, url, tls, recovery, guard,
    stop: () => {
      stopping ??= (async () => {
        scheduler.stopAll();
        if (orphanTimer) clearInterval(orphanTimer);
        background.abort();
        await reconciling;
        const ok = await daemon.shutdown();
        await reflector?.close().catch(() => undefined);
        return ok;
      })();
      return stopping;
    },
  };
}

/**
 * `backhaul agent revert-journal`: revert what the journal lists (systemd ExecStopPost). Refuses
 * while the agent that wrote the journal is still running (its reconciler would re-apply; stop it
 * instead: it reverts on SIGTERM).
 */
export async function revertJournalOnly(cfg: AgentConfig, log: (line: string) => void): Promise<RecoveryResult> {
  const state = await readJournal(journalPath(cfg));
  if (state.agentPid > 0 && state.agentPid !== process.pid && (await isAgentProcess(state.agentPid))) {
    throw new BackhaulError('ERR_LEASE_CONFLICT', `the agent that owns this journal is running (pid ${state.agentPid})`, {
      pid: state.agentPid, hint: 'stop it (SIGTERM reverts everything) or clear impairments through its API',
    });
  }
  return revertJournal(journalPath(cfg), createBackends(cfg), { log });
}

async function isAgentProcess(pid: number): Promise<boolean> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return argv.includes('agent') && !argv.includes('revert-journal');
  } catch {
    return false;
  }
}

/**
 * TEST HOOK: `BACKHAUL_TEST_APPLY_HOLD_MS=N` (0 < N <= 5000) makes every apply pause N ms after the
 * guard acknowledged its write-ahead revert plan and again after tc ran, so the crash tests can
 * SIGKILL the agent inside those windows. Logged loudly; never set it in production.
 */
function testApplyHold(env: NodeJS.ProcessEnv): { testApplyHoldMs?: number } {
  const ms = Number(env['BACKHAUL_TEST_APPLY_HOLD_MS'] ?? 0);
  if (!Number.isFinite(ms) || ms <= 0) return {};
  process.stderr.write(`backhaul agent: TEST HOOK BACKHAUL_TEST_APPLY_HOLD_MS=${Math.min(ms, 5000)} is set (applies pause; tests only)\n`);
  return { testApplyHoldMs: Math.min(ms, 5000) };
}

let nftProbe: Promise<boolean> | null = null;
/** Whether the `nft` tool runs here (asked once per process). */
function nftAvailable(): Promise<boolean> {
  nftProbe ??= execa('nft', ['--version'], { reject: false, timeout: 5000 }).then((r) => r.exitCode === 0, () => false);
  return nftProbe;
}
