/**
 * The write-ahead revert plan (pure): the revert steps for the state an apply WILL produce, computed
 * from the live state before it runs, so the revert guard can hold them before the first tc/ip
 * command of the apply (a SIGKILL at any instant of the apply then still gets reverted).
 *
 * Valid for every partially applied state in between, because each step removes only what is ours
 * and fails harmlessly when it is absent (the guard runs tc steps with `-force -batch`, continuing
 * past failures):
 *   - our htb is deleted by handle (`qdisc del ... root handle bac0:` / `parent P handle bac0:`):
 *     the kernel refuses ("Invalid handle") when the qdisc there is not ours, e.g. before our htb
 *     was added, so a foreign or default root is never touched;
 *   - the ingress redirect is deleted at backhaul's reserved priority, which the apply refuses to
 *     share (a foreign filter there fails the plan below, before anything is sent to the guard);
 *   - the ingress qdisc is deleted only when the apply will create it (none there now);
 *   - the IFB is deleted by its name, only when it is absent now (we create it) or already ours.
 * Under a foreign tbf the revert puts back a `bfifo bacf:` child (as every revert does there).
 * Throws exactly what planApply throws (ERR_FOREIGN_ROOT, ERR_USAGE), so a refused apply never
 * reaches the guard.
 */
import type { Profile } from '../../core/profile.js';
import type { NetemTarget } from '../backend.js';
import { HTB_HANDLE, INGRESS_HANDLE, PRIO_INGRESS_REDIRECT } from './handles.js';
import { attachPoint, ingressQdisc, ourHtb, ourRedirect, type LiveState } from './live-state.js';
import { formatIfbAlias, ifbNameFor, parseIfbAlias } from './names.js';
import { activeDirections, planApply, planRevert, type Plan, type PlanOptions, type Step } from './plan.js';
import type { QdiscEntry } from './tc-json.js';

/** The live state after a successful apply of `profile`, as far as the revert plan depends on it. */
export function predictApplied(target: NetemTarget, profile: Profile, current: LiveState): LiveState {
  const active = activeDirections(target, profile);
  const qdiscs: QdiscEntry[] = [...current.dev.qdiscs];
  const ingressFilters = [...current.dev.ingressFilters];
  if (active.includes('egress') && !ourHtb(qdiscs)) {
    const ap = attachPoint(current.dev, target.dev);
    qdiscs.push(ap.mode === 'root'
      ? { kind: 'htb', handle: HTB_HANDLE, root: true, options: {} }
      : { kind: 'htb', handle: HTB_HANDLE, parent: ap.parent, root: false, options: {} });
  }
  let ifb = current.ifb;
  if (active.includes('ingress')) {
    const name = ifbNameFor(target.dev, target.netns);
    const ingq = ingressQdisc(current.dev.qdiscs);
    const owns = !ingq || (parseIfbAlias(current.ifb?.alias)?.ownsIngressQdisc ?? false);
    ifb = {
      name, alias: formatIfbAlias({ dev: target.dev, ownsIngressQdisc: owns }), classes: [], filters: [],
      qdiscs: current.ifb && ourHtb(current.ifb.qdiscs) ? current.ifb.qdiscs : [{ kind: 'htb', handle: HTB_HANDLE, root: true, options: {} }],
    };
    if (!ingq) qdiscs.push({ kind: 'ingress', handle: INGRESS_HANDLE, parent: 'ffff:fff1', root: false, options: {} });
    if (!ourRedirect(ingressFilters, name)) {
      ingressFilters.push({ protocol: 'all', pref: PRIO_INGRESS_REDIRECT, kind: 'u32', keys: [],
        actions: [{ kind: 'mirred', mirredAction: 'redirect', direction: 'egress', toDev: name }] });
    }
  }
  return { dev: { ...current.dev, qdiscs, ingressFilters }, ifb };
}

/**
 * Make a revert step safe for a state where our tree may not be there yet: a root delete names our
 * handle (the kernel then refuses to delete anything else). Other revert steps already name what is
 * ours (handle, reserved priority, our IFB).
 */
export function hardenRevertStep(step: Step): Step {
  const a = step.args;
  if (step.tool === 'tc' && a.length === 5 && a[0] === 'qdisc' && a[1] === 'del' && a[2] === 'dev' && a[4] === 'root') {
    return { tool: 'tc', args: [...a, 'handle', HTB_HANDLE] };
  }
  return step;
}

/** The revert plan to hand the guard before applying `profile` to `target` (see the file comment). */
export function planRevertAhead(target: NetemTarget, profile: Profile, current: LiveState, opts: PlanOptions): Plan {
  planApply(target, profile, current, opts); // the same refusals as the apply itself, before anything is sent
  const plan = planRevert(target, predictApplied(target, profile, current));
  return { ...plan, steps: plan.steps.map(hardenRevertStep) };
}
