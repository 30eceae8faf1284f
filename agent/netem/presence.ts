/**
 * Is an applied profile still wholly in effect on a target? A pure reading of the live state, for
 * reconciliation: an impairment counts as present only when every part its apply installs is
 * there. Reading "something of ours exists" is not enough: our IFB outlives the interface it
 * serves (a deleted and recreated veth, ppp0 or wwan0 comes back bare while the IFB stays), and
 * someone may remove just the root or just the ingress qdisc.
 *
 * Parts, per direction the profile impairs on this target (plan.ts activeDirections):
 *   egress   our htb bac0: on the device, its class bac0:10 and a leaf under it
 *   ingress  an ingress/clsact qdisc on the device with our redirect to the IFB; the IFB (ours by
 *            its alias, for this device) with our htb, class and leaf
 */
import type { Direction, Profile } from '../../core/profile.js';
import type { NetemTarget } from '../backend.js';
import { IMPAIRED_CLASS } from './handles.js';
import { ingressQdisc, ourHtb, ourLeaf, ourRedirect, type DevTcState, type LiveState } from './live-state.js';
import { ifbNameFor, parseIfbAlias } from './names.js';
import { activeDirections } from './plan.js';

export interface Presence {
  /** every expected part is there */
  complete: boolean;
  /** human-readable names of the parts that are not (empty when complete) */
  missing: string[];
}

function treeMissing(state: DevTcState, where: string): string[] {
  if (!ourHtb(state.qdiscs)) return [`htb bac0: on ${where}`];
  const out: string[] = [];
  if (!state.classes.some((c) => c.classid === IMPAIRED_CLASS)) out.push(`class ${IMPAIRED_CLASS} on ${where}`);
  if (!ourLeaf(state.qdiscs)) out.push(`leaf under ${IMPAIRED_CLASS} on ${where}`);
  return out;
}

/**
 * The parts of `profile`'s tree on `target` that the live state lacks. Pure. Throws ERR_USAGE like
 * apply when the target's single direction is one the profile does not impair.
 */
export function presenceOf(target: NetemTarget, profile: Profile, live: LiveState): Presence {
  const missing: string[] = [];
  const dirs: Direction[] = activeDirections(target, profile);
  if (dirs.includes('egress')) missing.push(...treeMissing(live.dev, target.dev));
  if (dirs.includes('ingress')) {
    const ifb = ifbNameFor(target.dev, target.netns);
    if (!ingressQdisc(live.dev.qdiscs)) missing.push(`ingress qdisc on ${target.dev}`);
    else if (!ourRedirect(live.dev.ingressFilters, ifb)) missing.push(`redirect to ${ifb} on ${target.dev}'s ingress`);
    const ours = live.ifb && parseIfbAlias(live.ifb.alias)?.dev === target.dev ? live.ifb : null;
    if (!ours) missing.push(`IFB ${ifb}`);
    else missing.push(...treeMissing(ours, `${ifb} (IFB)`));
  }
  return { complete: missing.length === 0, missing };
}
