/**
 * One impairment held by the agent: its lease, what was applied, and what the last check found.
 * `toView` renders the API shape (agent/api/types.ts ImpairmentView).
 */
import type { ImpairmentView } from '../api/types.js';

/**
 * Everything the API view shows (`profileName` is derived from `profile` in `toView`), plus the
 * agent's own bookkeeping, which `toView` leaves out.
 */
export interface ImpairmentRecord extends Omit<ImpairmentView, 'profileName'> {
  key: string;
  /** Monotonic deadline of the lease (wall time may step; the lease does not). */
  expiresAtMonoNs: bigint;
  /** The lease's own TTL, ms: what it was created or last renewed with; a renew without ttl reuses it. */
  leaseTtlMs: number;
  revertPlan: string[][];
  phaseSwitchCount: number;
}

export const MAX_SWITCH_HISTORY = 50;

/**
 * Set whether `r` is in effect, keeping its history (`notInEffect`): a change to false opens a
 * gap (count + 1, lastAtMs = sinceMs = now), a change back to true closes it (totalMs += its
 * length). No change, no effect (idempotent).
 */
export function setInEffect(r: ImpairmentRecord, inEffect: boolean, nowMs: number): void {
  if (r.inEffect === inEffect) return;
  r.inEffect = inEffect;
  const h = r.notInEffect;
  if (!inEffect) {
    h.count += 1;
    h.lastAtMs = nowMs;
    h.sinceMs = nowMs;
  } else if (h.sinceMs !== null) {
    h.totalMs += Math.max(0, nowMs - h.sinceMs);
    h.sinceMs = null;
  }
}

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
    appliedAtMs: r.appliedAtMs,
    expiresAtMs: r.expiresAtMs,
    state: r.state,
    inEffect: r.inEffect,
    notInEffect: { ...r.notInEffect },
    lastCheckedAtMs: r.lastCheckedAtMs,
    lastError: r.lastError,
    phase: r.phase ? { ...r.phase } : null,
    phaseSwitches: [...r.phaseSwitches],
    reapplies: r.reapplies,
  };
}
