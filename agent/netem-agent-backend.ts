/**
 * The netem backend as the agent uses it: NetemBackend (agent/netem) plus the revert guard's plan
 * and split phase switches, and the tc counters for metrics. All tc/ip/ethtool execution still goes
 * through the netem runner; the guard only receives argv arrays computed here from the pure planner.
 */
import type { Profile } from '../core/profile.js';
import type { Applied, Target } from './backend.js';
import type { AgentBackend, PreparedSwitch } from './agent-backend.js';
import { HTB_HANDLE, IMPAIRED_CLASS } from './netem/handles.js';
import { ifbNameFor } from './netem/names.js';
import { NetemBackend, validateNetemTarget } from './netem/netem-backend.js';
import { planPhase, planRevert, stepArgv } from './netem/plan.js';
import { hardenRevertStep, planRevertAhead } from './netem/plan-ahead.js';
import { probeNetemSeed } from './netem/capabilities.js';
import type { TcCounters } from './metrics.js';
import type { ImpairmentRecord } from './impairments/record.js';

interface QdiscStats {
  kind?: string;
  handle?: string;
  parent?: string;
  bytes?: number;
  packets?: number;
  drops?: number;
  overlimits?: number;
}

/**
 * Counters of our impaired class on one device from `tc -s -j qdisc show` output: packets, bytes and
 * drops of the leaf under our class, overlimits of our htb. null when our tree is not there. Pure.
 */
export function countersFromQdiscJson(text: string): Omit<TcCounters, 'iface' | 'direction'> | null {
  let list: QdiscStats[];
  try {
    list = JSON.parse(text) as QdiscStats[];
  } catch {
    return null;
  }
  if (!Array.isArray(list)) return null;
  const htb = list.find((q) => q.kind === 'htb' && q.handle === HTB_HANDLE);
  if (!htb) return null;
  const leaf = list.find((q) => q.parent === IMPAIRED_CLASS);
  const src = leaf ?? htb;
  return { packets: src.packets ?? 0, bytes: src.bytes ?? 0, drops: src.drops ?? 0, overlimits: htb.overlimits ?? 0 };
}

export class NetemAgentBackend implements AgentBackend {
  readonly kind = 'netem' as const;

  constructor(readonly netem: NetemBackend = new NetemBackend()) {}

  apply(target: Target, profile: Profile, signal?: AbortSignal): Promise<Applied> {
    return this.netem.apply(target, profile, signal);
  }

  revert(target: Target, signal?: AbortSignal): Promise<void> {
    return this.netem.revert(target, signal);
  }

  status(target: Target): Promise<Applied | null> {
    return this.netem.status(target);
  }

  presence(target: Target, profile: Profile): Promise<{ complete: boolean; missing: string[] }> {
    return this.netem.presence(target, profile);
  }

  /** The revert steps for the current live state, as argv arrays (what `revert` would run now). */
  async revertPlan(target: Target): Promise<string[][]> {
    if (target.kind !== 'netem') return [];
    const t = validateNetemTarget(target);
    const plan = planRevert(t, await this.netem.runner.readLiveState(t));
    const offloads = await this.netem.offloadRestoreArgv(t);
    return [...plan.steps.map((s) => stepArgv(hardenRevertStep(s), plan.netns)), ...(offloads ? [offloads] : [])];
  }

  /**
   * The write-ahead revert plan: what undoes `apply(target, profile)` from any point of it (see
   * netem/plan-ahead.ts), computed from the live state before the apply runs. Throws what the
   * apply would throw for a refused target, before anything is changed.
   */
  async revertPlanAhead(target: Target, profile: Profile): Promise<string[][]> {
    if (target.kind !== 'netem') return [];
    const t = validateNetemTarget(target);
    const caps = await this.netem.capabilities().catch(() => null);
    const seedSupported = caps ? caps.netemSeed : await probeNetemSeed(this.netem.runner);
    const plan = planRevertAhead(t, profile, await this.netem.runner.readLiveState(t), { seedSupported });
    const offloads = await this.netem.offloadRestoreArgv(t, true);
    return [...plan.steps.map((s) => stepArgv(s, plan.netns)), ...(offloads ? [offloads] : [])];
  }

  async preparePhase(target: Target, profile: Profile, phaseIndex: number | null): Promise<PreparedSwitch> {
    if (target.kind !== 'netem') throw new Error('not a netem target');
    const t = validateNetemTarget(target);
    const caps = await this.netem.capabilities().catch(() => null);
    const seedSupported = caps ? caps.netemSeed : await probeNetemSeed(this.netem.runner);
    const plan = planPhase(t, profile, phaseIndex, await this.netem.runner.readLiveState(t), { seedSupported });
    return () => this.netem.runner.execute(plan);
  }

  /** tc counters of an impairment: egress on the device, ingress on its IFB. */
  async tcCounters(rec: ImpairmentRecord): Promise<TcCounters[]> {
    if (rec.target.kind !== 'netem') return [];
    const { dev, netns } = rec.target;
    const out: TcCounters[] = [];
    for (const [direction, iface] of [['egress', dev], ['ingress', ifbNameFor(dev, netns)]] as const) {
      const r = await this.netem.runner.run(['tc', ...(netns ? ['-n', netns] : []), '-s', '-j', 'qdisc', 'show', 'dev', iface], { allowFail: true });
      if (r.exitCode !== 0) continue;
      const c = countersFromQdiscJson(r.stdout);
      if (c) out.push({ iface, direction, ...c });
    }
    return out;
  }
}
