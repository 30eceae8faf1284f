/**
 * What the runner needs from a site (one agent). Two implementations: `AgentSite` (a remote agent
 * through the typed HTTP client) and `InProcessSite` (the relay backend, a reflector and probe
 * sessions in this process: the no-root demo and loopback tests). The runner never knows which.
 *
 * Contract for every method:
 * - Times are wall-clock ms on the CONTROLLER's clock (a remote site converts with its offset).
 * - Errors are BackhaulErrors; ERR_UNREACHABLE means the site is lost (the runner stops the
 *   campaign, reverts everywhere else and exits 2).
 * - `revert` and `clearAll` are idempotent; `revert` of an unknown id resolves.
 * - `apply` gives the impairment a lease of `ttlMs`: without `renew` the site reverts it by itself.
 */
import type { Clock } from '../../core/clock.js';
import type { Profile } from '../../core/profile.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';
import type { HookResult } from '../result.js';
import type { AgentHookSpec, FaultSpec, ImpairmentSpec, ProbeSpec } from '../spec.js';

export interface SitePreflight {
  reachable: boolean;
  authorised: boolean;
  version?: string;
  /** Backends this site can use: 'netem', 'relay'. */
  backends: string[];
  /** Fault kinds this site can inject. */
  faults: FaultSpec['kind'][];
  /** Hook names this site can run (agent hooks, from its config); absent: none. */
  hooks?: string[];
  /** Where its reflector answers (HOST:PORT), for probes addressed as `agent:NAME`. */
  reflector: string | null;
  problems: string[];
}

export interface PhaseRecord {
  /** Phase name (or 'base'), as the site switched it, with the actual switch times. */
  name: string;
  startMs: number;
  endMs: number;
  /** The phase drops every packet (100% loss in a direction it impairs): an expected outage. */
  outage: boolean;
}

/** What a site reads back about one impairment (`SiteDriver.inEffect`). */
export interface InEffectReading {
  /** In effect now (read back from the system); null if the site cannot tell. */
  now: boolean | null;
  /**
   * The times since its apply the site found it missing (an agent's reconciler, which re-applies:
   * `now` can be true again): how often, for how long in all (ms, an open gap counted up to the
   * read), and when the last one was detected (controller clock). Absent: the site keeps no history.
   */
  gaps?: { count: number; totalMs: number; lastAtMs: number | null };
}

export interface SiteProbeRun {
  /** Cumulative statistics so far, and the RTT histogram (HdrHistogram compressed base64, ns). */
  snapshot(): Promise<{ summary: ProbeSummary; histogramNs: string | null }>;
  /** Stop (idempotent) and return the final statistics with the histogram. */
  stop(): Promise<{ summary: ProbeSummary; histogramNs: string | null }>;
}

export interface ApplyRequest {
  impairment: ImpairmentSpec;
  profile: Profile;
  ttlMs: number;
  campaign: string;
  step: string;
  /**
   * The agreed start (controller wall ms): the site applies at this instant, not on receipt, and
   * `apply` resolves once applied (a remote site converts it to its own clock with the measured
   * offset). Already past: at once. Absent: at once.
   */
  startAtMs?: number;
}

/** Sleep until `clock` reads `atMs` (at once when absent or past). Rejects when `signal` aborts. */
export async function waitUntil(clock: Clock, atMs: number | undefined, signal?: AbortSignal): Promise<void> {
  if (atMs === undefined) return;
  const ms = atMs - clock.wallMs();
  if (ms > 0) await clock.sleep(ms, signal);
}

export interface SiteDriver {
  readonly name: string;
  preflight(signal?: AbortSignal): Promise<SitePreflight>;
  apply(req: ApplyRequest, signal?: AbortSignal): Promise<{ id: string; appliedAtMs: number }>;
  renew(id: string, ttlMs: number): Promise<void>;
  /** Whether the impairment is in effect now (read back from the system), and any gaps since its apply. */
  inEffect(id: string): Promise<InEffectReading>;
  /** The phases switched so far for this impairment (scheduled profiles), controller clock. */
  phases(id: string): Promise<PhaseRecord[]>;
  revert(id: string): Promise<void>;
  /** Remove every impairment this site holds (the kill switch). */
  clearAll(): Promise<number>;
  /** Inject a fault and restore it; resolves after the restore with the actual times. */
  fault(f: FaultSpec, signal?: AbortSignal): Promise<{ startMs: number; endMs: number }>;
  /** Run a hook the site declares (agent hooks); resolves after it ended (bounded by `h.timeoutMs`). */
  runHook?(h: AgentHookSpec, ctx: { campaign: string; step: string; stepEndMs: number }, signal?: AbortSignal): Promise<HookResult>;
  startProbe(p: ProbeSpec, target: string, durationMs: number): Promise<SiteProbeRun>;
  /** Of these profile names, the ones the site cannot resolve (its own library); absent = it uses ours. */
  missingProfiles?(names: string[]): Promise<string[]>;
  /** Told after pre-flight: this site's clock minus the controller's (ms). Remote sites convert with it. */
  setClockOffset?(offsetMs: number): void;
  close(): Promise<void>;
}
