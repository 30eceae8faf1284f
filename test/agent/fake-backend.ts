/**
 * An in-memory backend for the unit and integration tiers (never above): records applies and
 * reverts, can be told to fail, and "loses" an impairment on demand (like a removed qdisc).
 */
import { BackhaulError } from '../../core/errors.js';
import type { Profile } from '../../core/profile.js';
import type { Applied, Target } from '../../agent/backend.js';
import type { AgentBackend, PreparedSwitch } from '../../agent/agent-backend.js';
import { targetKey } from '../../agent/agent-backend.js';

export class FakeBackend implements AgentBackend {
  readonly kind = 'netem' as const;
  readonly live = new Map<string, { target: Target; profile: Profile; phase: number | null }>();
  readonly calls: string[] = [];
  failApply: Error | null = null;
  failRevert: Error | null = null;
  missingDevs = new Set<string>();
  /** Parts reported missing by `presence` per target key while the impairment still reads back (a partly removed tree). */
  readonly missingParts = new Map<string, string[]>();

  async apply(target: Target, profile: Profile): Promise<Applied> {
    this.calls.push(`apply ${targetKey(target)} ${profile.name}`);
    if (this.failApply) throw this.failApply;
    if (target.kind === 'netem' && this.missingDevs.has(target.dev)) {
      throw new BackhaulError('ERR_INTERFACE_NOT_FOUND', `no interface ${target.dev}`);
    }
    this.live.set(targetKey(target), { target, profile, phase: null });
    this.missingParts.delete(targetKey(target));
    return { target, backend: 'netem', profileName: profile.name, egress: profile.egress };
  }

  async revert(target: Target): Promise<void> {
    this.calls.push(`revert ${targetKey(target)}`);
    if (this.failRevert) throw this.failRevert;
    this.live.delete(targetKey(target));
  }

  async status(target: Target): Promise<Applied | null> {
    const l = this.live.get(targetKey(target));
    return l ? { target, backend: 'netem', profileName: l.profile.name, egress: l.profile.egress, details: { phase: l.phase } } : null;
  }

  async presence(target: Target): Promise<{ complete: boolean; missing: string[] }> {
    const missing = this.live.has(targetKey(target)) ? (this.missingParts.get(targetKey(target)) ?? []) : ['everything'];
    return { complete: missing.length === 0, missing };
  }

  async revertPlan(target: Target): Promise<string[][]> {
    return [['true', 'revert', targetKey(target)]];
  }

  async preparePhase(target: Target, _profile: Profile, phaseIndex: number | null): Promise<PreparedSwitch> {
    return async () => {
      const l = this.live.get(targetKey(target));
      if (!l) throw new BackhaulError('ERR_NOT_FOUND', 'nothing applied');
      l.phase = phaseIndex;
      this.calls.push(`phase ${targetKey(target)} ${phaseIndex}`);
    };
  }

  /** Simulate someone deleting our qdisc (or the interface going away). */
  lose(target: Target): void {
    this.live.delete(targetKey(target));
  }
}
