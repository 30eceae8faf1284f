/**
 * The in-process relay API (stable; used by the CLI, the relay backend, the agent and the no-root
 * demo): one call starts a UDP or TCP relay that applies a whole `Profile`, schedule included.
 *
 *   const relay = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: '127.0.0.1:9000',
 *                                    profile, seed: 42, timer: 'hybrid' }, { registry });
 *   relay.listen.port; relay.stats(); relay.phase(); relay.setPhase(1); relay.onPhase(cb);
 *   await relay.stop();
 *
 * Randomness: everything random (loss, jitter, duplicate, ..., random phase durations) comes from
 * one seed: `seed`, else the profile's `egress.seed`, else a fresh one; `relay.seed` tells which,
 * so a run can be repeated with `--seed`. A profile's `ingress.seed` seeds the ingress direction's
 * draws on its own (as netem seeds each qdisc), whatever `seed` is: `relay.ingressSeed` reports it
 * (null: ingress derives from `seed`). The profile is needed to repeat a run anyway, so `seed` plus
 * the profile reproduces it. Given the same seeds and the same arrival order per direction, the
 * same packets are dropped, delayed alike and duplicated. Only the starting profile's seeds count:
 * setProfile() and phases keep the generators running.
 *
 * Timers: `timer` picks the probe/timer waiter that releases packets (sleep | hybrid | busy);
 * its error is the relay's timing error (see docs/relay.md and bench/RESULTS.md).
 * `schedule: 'manual'` leaves phase switching to the caller (`setPhase`).
 */
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Profile } from '../../core/profile.js';
import { randomSeed, seededRandom } from '../../core/random.js';
import { createWaiter, DEFAULT_TIMER_MODE, type TimerMode, type Waiter } from '../../probe/timer.js';
import type { RelayStatsSnapshot } from './metrics.js';
import { PhaseDriver, type PhaseState } from './phases.js';
import { effectiveImpairment } from '../../core/schedule.js';
import { checkUdpImpairment, planTcpDirection, type HostPort, type TcpOutageMode } from './plan.js';
import { startTcpRelay, type TcpRelayHandle } from './tcp-relay.js';
import { startUdpRelay, type UdpRelayHandle } from './udp-relay.js';

export interface RelayConfig {
  proto: 'udp' | 'tcp';
  /** `HOST:PORT` or `[IPv6]:PORT`; port 0 picks a free one (read it back from `listen`). */
  listen: string;
  upstream: string;
  profile: Profile;
  seed?: number;
  timer?: TimerMode;
  /** Metrics label `relay`; default `<proto>:<listen>`. */
  name?: string;
  /** 'auto' (default) follows the profile's schedule; 'manual' waits for setPhase. */
  schedule?: 'auto' | 'manual';
  /** UDP: close a client flow after this long without traffic; default 60000. */
  idleTimeoutMs?: number;
  /** UDP: most client flows at once; default 4096. */
  maxFlows?: number;
  /** TCP: what a loss-100 % phase does; default blackhole. */
  tcpOutage?: TcpOutageMode;
  /** TCP: delay (ms) before a FIN is passed on; default 0. */
  slowCloseMs?: number;
  /** TCP: drop (and list) fields TCP cannot express instead of refusing the profile. */
  lenient?: boolean;
}

export interface RelayDeps {
  clock?: Clock;
  /** Export counters into this registry (several relays may share one). */
  registry?: Registry;
  /** Waiter factory (default: probe/timer's createWaiter(cfg.timer, clock)); one per direction/connection. */
  createWaiter?: (mode: TimerMode, clock: Clock) => Pick<Waiter, 'waitUntil'>;
}

export interface RelayHandle {
  readonly proto: 'udp' | 'tcp';
  readonly listen: HostPort;
  readonly upstream: HostPort;
  readonly seed: number;
  /** The profile's `ingress.seed` when it seeds the ingress direction; null when ingress derives from `seed`. */
  readonly ingressSeed: number | null;
  readonly timer: TimerMode;
  profile(): Profile;
  stats(): RelayStatsSnapshot;
  /** The phase in effect now (with the full effective impairment per direction). */
  phase(): PhaseState;
  /** Phases entered so far, oldest first (bounded). */
  phaseHistory(): PhaseState[];
  /** Pin a phase (null = base); stops the automatic schedule. */
  setPhase(phaseIndex: number | null): PhaseState;
  /** Replace the profile in place (sockets and flows stay); the schedule restarts from now. */
  setProfile(profile: Profile): void;
  onPhase(listener: (s: PhaseState) => void): () => void;
  /** TCP: fields dropped under `lenient` and documented re-interpretations; UDP: none. */
  warnings(): string[];
  /** Idempotent. */
  stop(): Promise<void>;
}

/** Start a relay; rejects (nothing left open) on a bad address or a profile it cannot express. */
export async function startRelay(cfg: RelayConfig, deps: RelayDeps = {}): Promise<RelayHandle> {
  const clock = deps.clock ?? systemClock;
  const seed = cfg.seed ?? cfg.profile.egress.seed ?? randomSeed();
  const timer = cfg.timer ?? DEFAULT_TIMER_MODE;
  const master = seededRandom(seed);
  const scheduleRandom = seededRandom(master.nextU32());
  const relayRandom = seededRandom(master.nextU32());
  const ingressSeed = cfg.profile.ingress?.seed ?? null;
  // The relay starts with the base; the driver then applies the first phase (same tick).
  const base = { egress: cfg.profile.egress, ingress: cfg.profile.ingress ?? {} };
  const common = {
    clock,
    random: relayRandom,
    ...(ingressSeed !== null ? { ingressRandom: seededRandom(ingressSeed) } : {}),
    createWaiter: () => (deps.createWaiter ?? createWaiter)(timer, clock),
    ...(deps.registry ? { registry: deps.registry } : {}),
  };
  let inner: UdpRelayHandle | TcpRelayHandle;
  if (cfg.proto === 'udp') {
    inner = await startUdpRelay(
      {
        listen: cfg.listen,
        upstream: cfg.upstream,
        ...base,
        ...(cfg.name ? { name: cfg.name } : {}),
        ...(cfg.idleTimeoutMs !== undefined ? { idleTimeoutMs: cfg.idleTimeoutMs } : {}),
        ...(cfg.maxFlows !== undefined ? { maxFlows: cfg.maxFlows } : {}),
      },
      common,
    );
  } else {
    inner = await startTcpRelay(
      {
        listen: cfg.listen,
        upstream: cfg.upstream,
        ...base,
        ...(cfg.name ? { name: cfg.name } : {}),
        ...(cfg.tcpOutage ? { outageMode: cfg.tcpOutage } : {}),
        ...(cfg.slowCloseMs !== undefined ? { slowCloseMs: cfg.slowCloseMs } : {}),
        ...(cfg.lenient !== undefined ? { lenient: cfg.lenient } : {}),
      },
      common,
    );
  }
  let profile = cfg.profile;
  const driver = new PhaseDriver(profile, (eg, ing) => inner.setImpairments(eg, ing), { clock, random: scheduleRandom });
  try {
    // Every phase is planned up front, so a phase the relay cannot express fails now, not later.
    checkAllPhases(profile, cfg);
    if (cfg.schedule === 'manual') driver.setPhase(null);
    else driver.start();
  } catch (e) {
    await inner.stop();
    throw e;
  }
  return {
    proto: cfg.proto,
    listen: inner.listen,
    upstream: inner.upstream,
    seed,
    ingressSeed,
    timer,
    profile: () => profile,
    stats: () => inner.stats(),
    phase: () => driver.current(),
    phaseHistory: () => driver.history(),
    setPhase: (i) => driver.setPhase(i),
    setProfile(p) {
      checkAllPhases(p, cfg);
      profile = p;
      driver.setProfile(p);
    },
    onPhase: (l) => driver.onPhase(l),
    warnings: () => (inner.proto === 'tcp' ? inner.warnings() : []),
    async stop() {
      driver.stop();
      await inner.stop();
    },
  };
}

/** Plan the base and every phase with the relay's own planner (pure: nothing is applied). */
export function checkAllPhases(profile: Profile, cfg: Pick<RelayConfig, 'proto' | 'lenient'>): void {
  const n = profile.schedule?.phases.length ?? 0;
  for (let i = -1; i < n; i++) {
    const idx = i < 0 ? null : i;
    const where = idx === null ? '' : `schedule.phases[${idx}].`;
    for (const d of ['egress', 'ingress'] as const) {
      const imp = effectiveImpairment(profile, idx, d) ?? {};
      if (cfg.proto === 'udp') checkUdpImpairment(imp, `${where}${d}`);
      else planTcpDirection(imp, d, cfg.lenient ?? false, where);
    }
  }
}
