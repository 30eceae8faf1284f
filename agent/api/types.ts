/**
 * The agent's HTTP API, v1: request and response shapes shared by the server (agent/api/routes)
 * and the typed client (agent/api/client.ts). Keep these stable: the campaign runner builds on them.
 *
 * Routes (all JSON; errors are `{ code, message, details }` with the catalogued HTTP status):
 *   GET    /v1/health                       -> Health
 *   GET    /v1/capabilities                 -> Capabilities
 *   GET    /v1/profiles                     -> { profiles: ProfileSummary[] }
 *   GET    /v1/profiles/:name               -> { profile: Profile, description: string }
 *   POST   /v1/impairments                  CreateImpairmentRequest -> 201 ImpairmentView
 *   GET    /v1/impairments                  -> { impairments: ImpairmentView[] }
 *   GET    /v1/impairments/:id              -> ImpairmentView
 *   POST   /v1/impairments/:id/renew        RenewRequest -> ImpairmentView
 *   DELETE /v1/impairments/:id[?force=true] -> DeleteResult
 *   POST   /v1/probes                       StartProbeRequest -> 201 ProbeView
 *   GET    /v1/probes                       -> { probes: ProbeView[] }
 *   GET    /v1/probes/:id                   -> ProbeView (with the summary so far)
 *   GET    /v1/probes/:id/histogram         -> ProbeHistogram
 *   DELETE /v1/probes/:id                   -> ProbeView (final summary)
 *   GET    /v1/reflector                    -> ReflectorView
 *   POST   /v1/faults                       FaultRequest -> 201 FaultView (link-down, flap, blackhole)
 *   GET    /v1/faults                       -> { faults: FaultView[] } (active and recently ended)
 *   GET    /v1/faults/:id                   -> FaultView
 *   DELETE /v1/faults/:id                   -> FaultView (ended: restored now)
 *   GET    /v1/hooks                        -> { hooks: { name, timeoutMs, junit }[] }
 *   POST   /v1/hooks/:name/run              HookRunRequest -> HookRunResult (waits for the command)
 *   GET    /v1/events (WebSocket)           -> AgentEvent messages, one JSON object per frame
 *   GET    /metrics                         -> Prometheus text
 * Auth: `Authorization: Bearer <token>` (mandatory unless the agent listens on loopback only
 * without a tokens file). 401 missing/wrong token, 403 a read-only token tried a change,
 * 409 the target is held by another controller's lease (retry with `force: true` to take it over).
 */
import type { Impairment, Profile } from '../../core/profile.js';
import type { DirectionSelector, MatchRule, Target } from '../backend.js';
import type { ProbeSessionConfig } from '../../probe/session.js';

export type { DirectionSelector, MatchRule, Target };

export interface Health {
  status: 'ok';
  version: string;
  /** Seconds since the agent started. */
  uptimeS: number;
  impairments: number;
  probes: number;
  guard: { pid: number | null; alive: boolean; restarts: number };
}

export interface Capabilities {
  backends: ('netem' | 'relay')[];
  kernel: { release: string; features: Record<string, boolean> };
  iproute2Version: string | null;
  nodeVersion: string;
  hostname: string;
  /** Fault kinds this agent injects (POST /v1/faults); absent on agents without the fault API. */
  faults?: ('link-down' | 'flap' | 'blackhole')[];
  /** Hook names its config declares (POST /v1/hooks/:name/run). */
  hooks?: string[];
  /** Lease limits, in milliseconds. */
  leases: { defaultTtlMs: number; maxTtlMs: number };
}

export interface ProfileSummary {
  name: string;
  description: string;
  source?: string;
}

/** A match/exclude rule in a request: an object, or the CLI string form `peer=CIDR[,port=N][,proto=tcp|udp]`. */
export type MatchRuleInput = MatchRule | string;

export type TargetInput =
  | { kind?: 'netem'; dev: string; netns?: string }
  | { kind: 'relay'; proto: 'udp' | 'tcp'; listen: string; upstream: string };

export interface CreateImpairmentRequest {
  target: TargetInput;
  /** A profile name from the agent's library, or an inline profile document (YAML-shaped object). */
  profile: string | Record<string, unknown>;
  /** Default 'both': whatever directions the profile defines. */
  direction?: DirectionSelector;
  match?: MatchRuleInput[];
  exclude?: MatchRuleInput[];
  /** Lease duration: '30s', '10m', '1h30m' or milliseconds. Default and maximum come from the agent config. */
  ttl?: string | number;
  /** Who holds the lease (default: the token's name). Another controller touching the target gets 409. */
  controller?: string;
  /** Take the target over from another controller's lease. */
  force?: boolean;
  /** Do not exclude the management path (API port, SSH, the controlling peer). Default false. */
  allowManagementInterface?: boolean;
  disableOffloads?: boolean;
  /** Free-form labels; `campaign` and `step` become `backhaul_campaign_step_info`. */
  labels?: { campaign?: string; step?: string; [k: string]: string | undefined };
  /**
   * Apply at this instant of the AGENT's wall clock: ms since the epoch, or ISO 8601 with a zone.
   * The request is answered once applied. At most START_AT_MAX_AHEAD_MS (60 s) ahead; an instant
   * already past is applied at once, unless more than START_AT_MAX_LATE_MS (60 s) past (a wrong
   * clock or unit): 400 then. Absent: at once.
   */
  startAt?: number | string;
}

export interface RenewRequest {
  ttl?: string | number;
  controller?: string;
  force?: boolean;
}

export interface PhaseSwitch {
  index: number;
  name: string;
  /** Wall-clock ms when the switch was planned, and when tc confirmed it. */
  plannedAtMs: number;
  actualAtMs: number;
}

export interface NotInEffectHistory {
  count: number;
  totalMs: number;
  lastAtMs: number | null;
  sinceMs: number | null;
}

export interface ImpairmentView {
  id: string;
  target: Target;
  backend: 'netem' | 'relay';
  profileName: string;
  profile: Profile;
  direction: DirectionSelector;
  match: MatchRule[];
  /** Everything excluded, the management rules included. */
  exclude: MatchRule[];
  managementExcluded: boolean;
  controller: string;
  labels: Record<string, string>;
  createdAtMs: number;
  /** When the apply completed (wall ms): with `startAt`, the agreed instant plus the apply's own time. */
  appliedAtMs: number;
  expiresAtMs: number;
  /** 'active' while in effect or being re-applied; 'reverting' during delete/expiry. */
  state: 'applying' | 'active' | 'reverting';
  /** Whether the last check found the impairment on the system. */
  inEffect: boolean;
  /**
   * Every time a check found it missing since it was applied (a re-apply puts it back, and then
   * `inEffect` reads true again): how often, the ms from each detection to its re-apply summed
   * (closed gaps; the open one runs from `sinceMs`), the last detection, and the open gap's start
   * (null while in effect). Wall ms, agent clock. A vanish is detected by the next check (periodic
   * or a link event), so it may have started up to one check interval before `lastAtMs`.
   */
  notInEffect: NotInEffectHistory;
  lastCheckedAtMs: number | null;
  lastError: string | null;
  phase: { index: number; name: string; sinceMs: number; egress?: Impairment; ingress?: Impairment } | null;
  /** The most recent phase switches (newest last, bounded). */
  phaseSwitches: PhaseSwitch[];
  reapplies: number;
}

/** A fault request: durations in ms (or '1s'-style text). Every fault is bounded (at most the max TTL). */
export type FaultRequest = (
  | { kind: 'link-down'; dev: string; netns?: string; durationMs: number | string }
  | { kind: 'flap'; dev: string; netns?: string; downMs: number | string; upMs: number | string; count: number }
  | { kind: 'blackhole'; peer: string; netns?: string; durationMs: number | string }
) & {
  /** Allow taking down the interface that routes to the caller (the controller). Default false. */
  allowManagementInterface?: boolean;
  controller?: string;
};

export type { FaultView } from '../faults/fault-manager.js';
export type { HookResult as HookRunResult } from '../../campaign/result.js';

export interface HookRunRequest {
  campaign?: string;
  step?: string;
  stepEndMs?: number;
}

export interface DeleteResult {
  id: string;
  reverted: true;
}

/**
 * A probe session as the API starts it: the engine's own settings (probe/session.ts) minus the
 * local-only ones (timer, outage threshold, window). `durationMs` omitted: run until stopped.
 */
export type StartProbeRequest = Pick<ProbeSessionConfig, 'target' | 'name' | 'intervalMs' | 'durationMs' | 'count' | 'sizeBytes' | 'timeoutMs'>;

export interface ProbeView {
  id: string;
  name: string;
  target: string;
  /** 'standing' probes come from the config file and cannot be stopped through the API. */
  origin: 'api' | 'standing';
  state: 'running' | 'stopped';
  startedAtMs: number;
  stoppedAtMs: number | null;
  /** The probe engine's summary (probe/stats/summary.ts ProbeSummary; docs/probe.md). */
  summary: Record<string, unknown>;
}

export interface ProbeHistogram {
  id: string;
  /** HdrHistogram V2 compressed, base64, of the RTT in `unit` (the agent sends nanoseconds). */
  encoded: string;
  /** The same for the RTT measured from the intended send time (coordinated omission). */
  encodedFromIntended?: string;
  unit: 'us' | 'ns';
}

export interface ReflectorView {
  enabled: boolean;
  address: string | null;
  port: number | null;
  counters: Record<string, number>;
}

/** Events on the WebSocket stream (`GET /v1/events`), one JSON object per message. */
export type AgentEvent =
  | { type: 'hello'; atMs: number; version: string }
  | { type: 'impairment.created'; atMs: number; id: string; view: ImpairmentView }
  | { type: 'impairment.renewed'; atMs: number; id: string; expiresAtMs: number }
  | { type: 'impairment.deleted'; atMs: number; id: string; reason: 'api' | 'expired' | 'shutdown' | 'taken-over' }
  | { type: 'impairment.in-effect'; atMs: number; id: string; inEffect: boolean; reason: string }
  | { type: 'impairment.reapplied'; atMs: number; id: string; reason: string }
  | { type: 'impairment.error'; atMs: number; id: string; message: string }
  | { type: 'phase.switched'; atMs: number; id: string; index: number; name: string; plannedAtMs: number }
  | { type: 'fault.started'; atMs: number; id: string; kind: 'link-down' | 'flap' | 'blackhole'; iface: string; endsAtMs: number }
  | { type: 'fault.ended'; atMs: number; id: string; kind: 'link-down' | 'flap' | 'blackhole'; reason: 'elapsed' | 'stopped'; error?: string }
  | { type: 'guard.restarted'; atMs: number; pid: number | null }
  | { type: 'probe.started' | 'probe.stopped'; atMs: number; id: string; target: string };

export interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}
