/**
 * What the agent needs from a backend beyond `ImpairmentBackend`: the guard's revert plan and
 * leaf-only phase switches. Adapters in the composition root (agent/main.ts) provide them.
 */
import type { ImpairmentBackend, Target } from './backend.js';
import type { Profile } from '../core/profile.js';

/** A phase switch read and planned ahead of its boundary; `run()` executes it (one tc batch). */
export type PreparedSwitch = () => Promise<void>;

export interface AgentBackend extends ImpairmentBackend {
  /**
   * argv steps (no shell) that undo what is applied on `target` right now, for the revert guard to
   * run if the agent dies. Computed after each apply. Absent or [] when the agent's death undoes it
   * by itself (the in-process relay).
   */
  revertPlan?(target: Target): Promise<string[][]>;
  /**
   * Write-ahead: argv steps that undo `apply(target, profile)` from ANY point of it (nothing done,
   * partly done, done), computed before it runs, so the guard holds them before the first command.
   * Each step touches only what is ours and tolerates its absence. Throws (before any change) what
   * the apply would refuse. Absent when the agent's death undoes the apply by itself (the relay).
   */
  revertPlanAhead?(target: Target, profile: Profile): Promise<string[][]>;
  /**
   * Read the live state and plan a switch of a scheduled profile to `phaseIndex` (null = the base),
   * touching only the leaves (no root graft); the returned function executes it. Splitting the two
   * lets the schedule runner plan before the boundary and switch at it. Absent when the backend
   * runs schedules itself (the relay).
   */
  preparePhase?(target: Target, profile: Profile, phaseIndex: number | null): Promise<PreparedSwitch>;
  /**
   * Whether `profile` (as applied to `target`) is wholly in effect now, read from the live state:
   * `complete` only when every part the apply installs is there; `missing` names what is not.
   * Reconciliation uses it; without it, `status() !== null` counts as in effect (the relay, whose
   * impairment is one in-process object that cannot be partly there).
   */
  presence?(target: Target, profile: Profile): Promise<{ complete: boolean; missing: string[] }>;
}

/** A stable key per target, for leases and conflicts: one impairment per key. */
export function targetKey(t: Target): string {
  return t.kind === 'netem' ? `netem:${t.netns ?? ''}:${t.dev}` : `relay:${t.proto}:${t.listen}`;
}

/** A short human label: `eth0`, `ns1/eth0`, `udp 0.0.0.0:9000 -> 10.0.0.1:9000`. */
export function targetLabel(t: Target): string {
  return t.kind === 'netem' ? (t.netns ? `${t.netns}/${t.dev}` : t.dev) : `${t.proto} ${t.listen} -> ${t.upstream}`;
}
