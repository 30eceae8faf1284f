/**
 * Test helper: every netem leaf command the planner emits for every bundled profile, for the base
 * and every schedule phase, in both directions.
 */
import type { Profile } from '../../../core/profile.js';
import { listProfiles } from '../../../agent/profile-library.js';
import { emptyDevState, type LiveState } from '../../../agent/netem/live-state.js';
import { planApply, planPhase } from '../../../agent/netem/plan.js';
import { parseQdiscs } from '../../../agent/netem/tc-json.js';
import { ifbNameFor } from '../../../agent/netem/names.js';

export interface NetemCommand {
  profile: string;
  phase: string;
  /** arguments from `netem` on */
  args: string[];
}

export async function bundledProfiles(): Promise<Profile[]> {
  const entries = await listProfiles({ env: {} });
  return entries.filter((e) => e.origin === 'bundled').map((e) => {
    if (!e.profile) throw new Error(`bundled profile ${e.name} does not load: ${e.error?.message}`);
    return e.profile;
  });
}

/** A state where our tree (with a netem leaf) is in place on the device and on its IFB. */
function appliedState(): LiveState {
  const ours = parseQdiscs(JSON.stringify([
    { kind: 'htb', handle: 'bac0:', root: true, options: {} },
    { kind: 'netem', handle: 'bac1:', parent: 'bac0:10', options: { limit: 1000 } },
  ]));
  return {
    dev: { qdiscs: ours, classes: [], filters: [], ingressFilters: [] },
    ifb: { name: ifbNameFor('eth0'), alias: 'backhaul-ifb dev=eth0 ingress-qdisc=ours', qdiscs: ours, classes: [], filters: [] },
  };
}

export function netemCommandsOf(p: Profile, seedSupported: boolean): NetemCommand[] {
  const target = { kind: 'netem' as const, dev: 'eth0', direction: 'both' as const };
  const out: NetemCommand[] = [];
  const pick = (phase: string, steps: { tool: string; args: string[] }[]): void => {
    for (const s of steps) {
      const i = s.args.indexOf('netem');
      if (s.tool === 'tc' && i >= 0) out.push({ profile: p.name, phase, args: s.args.slice(i) });
    }
  };
  pick('base', planApply(target, p, { dev: { ...emptyDevState(), ingressFilters: [] }, ifb: null }, { seedSupported }).steps);
  p.schedule?.phases.forEach((ph, i) => {
    pick(`phase ${i}${ph.name ? ` (${ph.name})` : ''}`, planPhase(target, p, i, appliedState(), { seedSupported }).steps);
  });
  return out;
}
