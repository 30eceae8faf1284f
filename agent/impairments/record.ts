/**
 * One impairment held by the agent: its lease, what was applied, and what the last check found.
 * `toView` renders the API shape (agent/api/types.ts ImpairmentView).
 */
import type { Impairment, Profile } from '../../core/profile.js';
import type { DirectionSelector, MatchRule, Target } from '../backend.js';
import type { ImpairmentView, PhaseSwitch } from '../api/types.js';

export interface ImpairmentRecord {
  id: string;
  key: string;
  target: Target;
  backend: 'netem' | 'relay';
  profile: Profile;
  direction: DirectionSelector;
  match: MatchRule[];
  exclude: MatchRule[];
  managementExcluded: boolean;
  controller: string;
  labels: Record<string, string>;
  createdAtMs: number;
  expiresAtMs: number;
  /** Monotonic deadline of the lease (wall time may step; the lease does not). */
  expiresAtMonoNs: bigint;
  state: 'applying' | 'active' | 'reverting';
  inEffect: boolean;
  lastCheckedAtMs: number | null;
  lastError: string | null;
  revertPlan: string[][];
  phase: { index: number; name: string; sinceMs: number; egress?: Impairment; ingress?: Impairment } | null;
  phaseSwitches: PhaseSwitch[];
  phaseSwitchCount: number;
  reapplies: number;
}

export const MAX_SWITCH_HISTORY = 50;

export function toView(r: ImpairmentRecord): ImpairmentView {
  return {
    id: r.id,
    target: r.target,
    backend: r.backend,
    profileName: r.profile.name,
    profile: r.profile,
    direction: r.direction,
    match: r.match,
    exclude: r.exclude,
    managementExcluded: r.managementExcluded,
    controller: r.controller,
    labels: { ...r.labels },
    createdAtMs: r.createdAtMs,
    expiresAtMs: r.expiresAtMs,
    state: r.state,
    inEffect: r.inEffect,
    lastCheckedAtMs: r.lastCheckedAtMs,
    lastError: r.lastError,
    phase: r.phase ? { ...r.phase } : null,
    phaseSwitches: [...r.phaseSwitches],
    reapplies: r.reapplies,
  };
}
