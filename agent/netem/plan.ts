/**
 * The pure planner: (target, profile, live state) -> the commands that make the live state what
 * the profile says, and nothing else. No I/O here; runner.ts executes a Plan.
 *
 *   planApply  install/replace everything (idempotent: applying the same profile to the state it
 *              produced yields an equivalent no-op-ish plan; B over A leaves no trace of A)
 *   planPhase  a schedule switch: only the htb class rate and the leaf of each active direction
 *   planRevert remove everything of ours (and only that); of nothing: an empty plan
 *
 * Step order within a plan matters: `ip link` steps that create the IFB come first, then one tc
 * batch (the IFB tree before the redirect that feeds it), then `ip link del` of the IFB, then
 * ethtool. Consecutive tc steps run as one `tc -batch` (runner.ts).
 */
import { BackhaulError } from '../../core/errors.js';
import type { Direction, Impairment, Profile } from '../../core/profile.js';
import { effectiveImpairment } from '../../core/schedule.js';
import type { MatchRule, NetemTarget } from '../backend.js';
import {
  DIRECT_FLOWID, HTB_DEFAULT_MINOR, HTB_DIRECT_QLEN, HTB_HANDLE, IMPAIRED_CLASS, INGRESS_HANDLE, INGRESS_PARENT, LEAF_HANDLES,
  PRIO_CATCH_ALL, PRIO_EXCLUDE_V4, PRIO_EXCLUDE_V6, PRIO_INGRESS_REDIRECT, PRIO_MATCH_V4, PRIO_MATCH_V6, PRIO_NEIGHBOUR_ARP, PRIO_NEIGHBOUR_ND,
  RESTORED_CHILD_HANDLE,
} from './handles.js';
import {
  attachArgs, attachPoint, emptyDevState, ingressQdisc, ourHtb, ourLeaf, ourRedirect, type DevTcState, type LiveState,
} from './live-state.js';
import { canonicalCidr, u32Selectors } from './match.js';
import { formatIfbAlias, ifbNameFor, parseIfbAlias } from './names.js';
import { htbClassArgs, leafNeedsRecreate, leafSwapNeedsGap, needsNetem, renderLeaf, type LiveLeaf, type NetemRenderOptions } from './netem-args.js';
import { decodeSelector } from './parse.js';
import { shellLine } from './tc-format.js';

export type Tool = 'tc' | 'ip' | 'ethtool';

export interface Step {
  tool: Tool;
  /** arguments after the tool (and after `-n NETNS`) */
  args: string[];
}

export interface Plan {
  netns?: string;
  steps: Step[];
  warnings: string[];
}

export interface PlanOptions extends NetemRenderOptions {
  /**
   * What the caller itself applied last per direction, when it knows (the schedule runner): lets
   * a phase switch `change` the leaf instead of grafting a fresh one (see leafNeedsRecreate).
   */
  previous?: Partial<Record<Direction, Impairment>>;
}

/** The full argv of a step, as a shell would run it. */
export function stepArgv(step: Step, netns?: string): string[] {
  if (step.tool === 'ethtool') return netns ? ['ip', 'netns', 'exec', netns, 'ethtool', ...step.args] : ['ethtool', ...step.args];
  return [step.tool, ...(netns ? ['-n', netns] : []), ...step.args];
}

/** Every command of a plan, one shell line each (what --dry-run prints). */
export function planLines(plan: Plan): string[] {
  return plan.steps.map((s) => shellLine(stepArgv(s, plan.netns)));
}

/** The `tc -batch` body for a run of tc steps (one command per line, no leading `tc`). */
export function batchBody(steps: Step[]): string {
  return steps.map((s) => shellLine(s.args)).join('\n') + '\n';
}

function directionsOf(target: NetemTarget): Direction[] {
  return target.direction === 'both' ? ['egress', 'ingress'] : [target.direction];
}

function isEmpty(imp: Impairment | undefined): boolean {
  return imp === undefined || Object.keys(imp).length === 0;
}

/** Every impairment a direction takes over the profile's life (base + each phase). */
function impairmentsOver(profile: Profile, dir: Direction): Impairment[] {
  const out: Impairment[] = [];
  const base = effectiveImpairment(profile, null, dir);
  if (base) out.push(base);
  profile.schedule?.phases.forEach((_, i) => {
    const imp = effectiveImpairment(profile, i, dir);
    if (imp) out.push(imp);
  });
  return out;
}

/** Whether the profile ever impairs this direction (some base/phase impairment is non-empty). */
export function directionActive(profile: Profile, dir: Direction): boolean {
  return impairmentsOver(profile, dir).some((i) => !isEmpty(i));
}

/** Whether this direction needs a netem leaf at any point of the profile's life. */
export function directionNeedsNetem(profile: Profile, dir: Direction): boolean {
  return impairmentsOver(profile, dir).some(needsNetem);
}

/** Directions of `target` the profile impairs. Throws when the user asked for one it lacks. */
export function activeDirections(target: NetemTarget, profile: Profile): Direction[] {
  const dirs = directionsOf(target).filter((d) => directionActive(profile, d));
  if (target.direction !== 'both' && dirs.length === 0) {
    throw new BackhaulError('ERR_USAGE', `profile ${profile.name} has no ${target.direction} impairment`, {
      profile: profile.name,
      hint: target.direction === 'ingress' ? 'the profile leaves the downlink untouched; use --direction egress or both' : 'use --direction ingress',
    });
  }
  return dirs;
}

interface DesiredFilter {
  prio: number;
  protocol: 'ip' | 'ipv6' | 'all' | 'arp';
  tokens: string[];
  flowid: string;
  /** normalized signature, comparable with what decodeSelector reads back */
  sig: string;
}

function selectorSig(prio: number, family: 4 | 6 | 'any', side: 'src' | 'dst', cidr: string | undefined, proto: number | undefined,
  portSide: 'sport' | 'dport', port: number | undefined, flowid: string, localPort?: number): string {
  return JSON.stringify([prio, family, side, cidr ?? null, proto ?? null, portSide, port ?? null, flowid, localPort ?? null]);
}

/** ICMPv6 type/mask pairs covering neighbour discovery, 133-137. */
const ND_TYPE_MATCHES = [['0x85', '0xff'], ['0x86', '0xfe'], ['0x88', '0xfe']] as const;

function desiredFilters(rules: MatchRule[], excludes: MatchRule[], dir: Direction): DesiredFilter[] {
  const side = dir === 'egress' ? 'dst' : 'src';
  const portSide = dir === 'egress' ? 'dport' : 'sport';
  const out: DesiredFilter[] = [];
  const add = (rs: MatchRule[], prio4: number, prio6: number, flowid: string): void => {
    for (const r of rs) {
      for (const sel of u32Selectors(r, dir)) {
        const prio = sel.family === 4 ? prio4 : prio6;
        const protoTok = sel.tokens.indexOf('protocol');
        const proto = protoTok >= 0 ? Number(sel.tokens[protoTok + 1]) : undefined;
        out.push({
          prio, protocol: sel.family === 4 ? 'ip' : 'ipv6', tokens: sel.tokens, flowid,
          sig: selectorSig(prio, sel.family, side, canonicalCidr(r.peer), proto, portSide, r.port, flowid, r.localPort),
        });
      }
    }
  };
  add(excludes, PRIO_EXCLUDE_V4, PRIO_EXCLUDE_V6, DIRECT_FLOWID);
  if (excludes.length > 0) {
    // An excluded peer must stay resolvable: ARP, and ICMPv6 neighbour discovery, types 133-137
    // (router solicitation/advertisement, neighbour solicitation/advertisement, redirect) as
    // 0x85/0xff, 0x86/0xfe, 0x88/0xfe at the fixed header's end (ND carries no extension headers).
    out.push({ prio: PRIO_NEIGHBOUR_ARP, protocol: 'arp', tokens: ['match', 'u32', '0', '0'], flowid: DIRECT_FLOWID,
      sig: selectorSig(PRIO_NEIGHBOUR_ARP, 'any', side, undefined, undefined, portSide, undefined, DIRECT_FLOWID) });
    for (const [type, mask] of ND_TYPE_MATCHES) {
      out.push({ prio: PRIO_NEIGHBOUR_ND, protocol: 'ipv6', tokens: ['match', 'ip6', 'protocol', '58', '0xff', 'match', 'u8', type, mask, 'at', '40'],
        flowid: DIRECT_FLOWID, sig: selectorSig(PRIO_NEIGHBOUR_ND, 6, side, undefined, 58, portSide, undefined, DIRECT_FLOWID) });
    }
  }
  add(rules, PRIO_MATCH_V4, PRIO_MATCH_V6, IMPAIRED_CLASS);
  if (rules.length > 0) {
    out.push({ prio: PRIO_CATCH_ALL, protocol: 'all', tokens: ['match', 'u32', '0', '0'], flowid: DIRECT_FLOWID,
      sig: selectorSig(PRIO_CATCH_ALL, 'any', side, undefined, undefined, portSide, undefined, DIRECT_FLOWID) });
  }
  return out;
}

function liveFilterSigs(state: DevTcState, dir: Direction): string[] {
  const side = dir === 'egress' ? 'dst' : 'src';
  const portSide = dir === 'egress' ? 'dport' : 'sport';
  const localSide = dir === 'egress' ? 'sport' : 'dport';
  return state.filters.map((f) => {
    const d = decodeSelector(f);
    return selectorSig(d.pref, d.family, side, d[side], d.protocol, portSide, d[portSide], d.flowid ?? '', d[localSide]);
  });
}

function sameSet(a: string[], b: string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function liveLeafOf(state: DevTcState, known: Impairment | undefined): LiveLeaf | undefined {
  const leaf = ourLeaf(state.qdiscs);
  if (!leaf) return undefined;
  return {
    handle: leaf.handle,
    kind: leaf.kind,
    ecn: leaf.options['ecn'] === true,
    slot: leaf.options['slot'] !== undefined,
    duplicate: Number((leaf.options['duplicate'] as { duplicate?: number } | undefined)?.duplicate ?? 0) > 0,
    ...(known ? { distribution: known.distribution && known.distribution !== 'uniform' ? known.distribution : null } : {}),
  };
}

/** Class + leaf steps for one device (shared by apply and phase switches). */
function classAndLeafSteps(dev: string, imp: Impairment, state: DevTcState, forceNetem: boolean, opts: PlanOptions,
  known: Impairment | undefined, warnings: string[]): Step[] {
  const steps: Step[] = [];
  steps.push({ tool: 'tc', args: ['class', 'replace', 'dev', dev, 'parent', HTB_HANDLE, 'classid', IMPAIRED_CLASS, ...htbClassArgs(imp)] });
  const leaf = renderLeaf(imp, opts, forceNetem);
  warnings.push(...leaf.warnings);
  const live = liveLeafOf(state, known);
  const at = ['dev', dev, 'parent', IMPAIRED_CLASS];
  if (!live) steps.push({ tool: 'tc', args: ['qdisc', 'add', ...at, 'handle', LEAF_HANDLES[0], ...leaf.args] });
  else if (leafNeedsRecreate(live, leaf)) {
    const other = live.handle === LEAF_HANDLES[0] ? LEAF_HANDLES[1] : LEAF_HANDLES[0];
    if (leafSwapNeedsGap(live, leaf)) {
      steps.push({ tool: 'tc', args: ['qdisc', 'del', ...at, 'handle', live.handle] });
      steps.push({ tool: 'tc', args: ['qdisc', 'add', ...at, 'handle', other, ...leaf.args] });
    } else steps.push({ tool: 'tc', args: ['qdisc', 'replace', ...at, 'handle', other, ...leaf.args] });
  } else steps.push({ tool: 'tc', args: ['qdisc', 'change', ...at, 'handle', live.handle, ...leaf.args] });
  return steps;
}

/** Install or update our tree on one device (the target for egress, the IFB for ingress). */
function treeSteps(dev: string, label: string, imp: Impairment, state: DevTcState, target: NetemTarget, dir: Direction,
  forceNetem: boolean, opts: PlanOptions, warnings: string[]): Step[] {
  const steps: Step[] = [];
  const ap = attachPoint(state, label);
  const htb = ourHtb(state.qdiscs);
  if (!htb) {
    // `add` (exclusive) rather than `replace`: if a foreign root appeared since we read the state,
    // the kernel refuses instead of us destroying it. Over our own restored bfifo, replace it.
    const childIsRestored = ap.mode === 'graft' && state.qdiscs.some((q) => q.parent === ap.parent && q.handle === RESTORED_CHILD_HANDLE);
    steps.push({ tool: 'tc', args: ['qdisc', childIsRestored ? 'replace' : 'add', 'dev', dev, ...attachArgs(ap), 'handle', HTB_HANDLE,
      'htb', 'default', HTB_DEFAULT_MINOR, 'direct_qlen', String(HTB_DIRECT_QLEN)] });
  }
  steps.push(...classAndLeafSteps(dev, imp, htb ? state : { ...state, qdiscs: [] }, forceNetem, opts, undefined, warnings));
  const want = desiredFilters(target.match ?? [], target.exclude ?? [], dir);
  const have = htb ? liveFilterSigs(state, dir) : [];
  if (!sameSet(want.map((f) => f.sig), have)) {
    if (have.length > 0) steps.push({ tool: 'tc', args: ['filter', 'del', 'dev', dev, 'parent', HTB_HANDLE] });
    for (const f of want) {
      steps.push({ tool: 'tc', args: ['filter', 'add', 'dev', dev, 'parent', HTB_HANDLE, 'protocol', f.protocol, 'prio', String(f.prio),
        'u32', ...f.tokens, 'flowid', f.flowid] });
    }
  }
  return steps;
}

/** `tc qdisc change` of a foreign tbf to its own parameters (recreates its default child). */
function tbfChangeStep(dev: string, foreign: { root: boolean; handle: string }, args: string[]): Step {
  const where = foreign.root ? ['root', 'handle', foreign.handle] : ['handle', foreign.handle];
  return { tool: 'tc', args: ['qdisc', 'change', 'dev', dev, ...where, 'tbf', ...args] };
}

/**
 * A tbf root on noop (no child at all) with our tree gone: an exact revert was interrupted between
 * its two steps (a crash, a killed guard). Finish it, so the interface does not stay black-holed.
 */
function finishTbfRevert(dev: string, label: string, state: DevTcState): Step[] {
  const ap = attachPoint(state, label);
  if (ap.mode !== 'graft' || !ap.restore?.exact || ap.restore.args.length === 0) return [];
  return [tbfChangeStep(dev, ap.foreign, ap.restore.args)];
}

/** Remove our tree from one device, restoring a foreign root's child where needed. */
function removeTreeSteps(dev: string, label: string, state: DevTcState): Step[] {
  const htb = ourHtb(state.qdiscs);
  if (!htb) return state.tbfNoopChild ? finishTbfRevert(dev, label, state) : [];
  if (htb.root) return [{ tool: 'tc', args: ['qdisc', 'del', 'dev', dev, 'root'] }];
  const ap = attachPoint(state, label);
  if (ap.mode === 'graft' && ap.restore) {
    // tbf grafts noop (drops everything) in place of a deleted child. Exact: delete ours, then a
    // `change` of the tbf with its own parameters makes the kernel create its invisible default
    // bfifo again (same batch, so noop lasts microseconds). Otherwise graft a visible bfifo.
    if (ap.restore.exact) {
      const del: Step = { tool: 'tc', args: ['qdisc', 'del', 'dev', dev, 'parent', ap.parent, 'handle', HTB_HANDLE] };
      return ap.restore.args.length === 0 ? [del] : [del, tbfChangeStep(dev, ap.foreign, ap.restore.args)];
    }
    return [{ tool: 'tc', args: ['qdisc', 'replace', 'dev', dev, 'parent', ap.parent, 'handle', RESTORED_CHILD_HANDLE, 'bfifo', 'limit',
      String(ap.restore.limitBytes)] }];
  }
  return [{ tool: 'tc', args: ['qdisc', 'del', 'dev', dev, 'parent', htb.parent ?? 'root', 'handle', HTB_HANDLE] }];
}

interface IngressParts {
  pre: Step[];
  tc: Step[];
  post: Step[];
}

function ifbIsOurs(current: LiveState, dev: string): boolean {
  const alias = parseIfbAlias(current.ifb?.alias);
  return alias !== null && alias.dev === dev;
}

/**
 * The parent to add/delete our redirect at: `ffff:` on an `ingress` qdisc, the `ffff:fff2` hook on a
 * clsact. (Adding a filter at `ffff:fff2` to an `ingress` qdisc works too, but changes how the kernel
 * reports the parent of the filters already there, for good: a foreign filter would then no longer
 * read back byte-identical after our revert.)
 */
function redirectParent(ingq: { kind: string } | undefined): string {
  return ingq?.kind === 'clsact' ? INGRESS_PARENT : INGRESS_HANDLE;
}

function removeIngressParts(target: NetemTarget, current: LiveState): IngressParts {
  const parts: IngressParts = { pre: [], tc: [], post: [] };
  const ifb = ifbNameFor(target.dev, target.netns);
  if (!current.ifb || !ifbIsOurs(current, target.dev)) return parts;
  const redirect = ourRedirect(current.dev.ingressFilters, ifb);
  if (redirect) {
    parts.tc.push({ tool: 'tc', args: ['filter', 'del', 'dev', target.dev, 'parent', redirectParent(ingressQdisc(current.dev.qdiscs)), 'protocol', 'all', 'prio',
      String(PRIO_INGRESS_REDIRECT)] });
  }
  const alias = parseIfbAlias(current.ifb.alias);
  const others = current.dev.ingressFilters.filter((f) => f !== redirect);
  const ingq = ingressQdisc(current.dev.qdiscs);
  if (alias?.ownsIngressQdisc && ingq?.kind === 'ingress' && others.length === 0) {
    parts.tc.push({ tool: 'tc', args: ['qdisc', 'del', 'dev', target.dev, 'ingress'] });
  }
  parts.post.push({ tool: 'ip', args: ['link', 'del', 'dev', ifb] });
  return parts;
}

function applyIngressParts(target: NetemTarget, imp: Impairment, current: LiveState, forceNetem: boolean, opts: PlanOptions,
  warnings: string[]): IngressParts {
  const parts: IngressParts = { pre: [], tc: [], post: [] };
  const ifb = ifbNameFor(target.dev, target.netns);
  const ingq = ingressQdisc(current.dev.qdiscs);
  let ifbState: DevTcState;
  if (!current.ifb) {
    parts.pre.push({ tool: 'ip', args: ['link', 'add', 'name', ifb, 'type', 'ifb'] });
    parts.pre.push({ tool: 'ip', args: ['link', 'set', 'dev', ifb, 'alias', formatIfbAlias({ dev: target.dev, ownsIngressQdisc: !ingq })] });
    parts.pre.push({ tool: 'ip', args: ['link', 'set', 'dev', ifb, 'up'] });
    ifbState = emptyDevState('pfifo_fast');
  } else if (!ifbIsOurs(current, target.dev)) {
    throw new BackhaulError('ERR_FOREIGN_ROOT', `an interface named ${ifb} exists that backhaul did not create (alias ${JSON.stringify(current.ifb.alias ?? '')})`, {
      ifb, hint: `backhaul names the IFB for ${target.dev} ${ifb}; remove or rename that interface`,
    });
  } else {
    ifbState = current.ifb;
    const alias = parseIfbAlias(current.ifb.alias);
    if (!ingq && alias && !alias.ownsIngressQdisc) {
      parts.pre.push({ tool: 'ip', args: ['link', 'set', 'dev', ifb, 'alias', formatIfbAlias({ dev: target.dev, ownsIngressQdisc: true })] });
    }
    parts.pre.push({ tool: 'ip', args: ['link', 'set', 'dev', ifb, 'up'] });
  }
  parts.tc.push(...treeSteps(ifb, `${ifb} (IFB of ${target.dev})`, imp, ifbState, target, 'ingress', forceNetem, opts, warnings));
  if (!ingq) parts.tc.push({ tool: 'tc', args: ['qdisc', 'add', 'dev', target.dev, 'handle', 'ffff:', 'ingress'] });
  const existing = current.dev.ingressFilters.filter((f) => f.pref === PRIO_INGRESS_REDIRECT);
  if (!ourRedirect(current.dev.ingressFilters, ifb)) {
    if (existing.length > 0) {
      throw new BackhaulError('ERR_FOREIGN_ROOT', `${target.dev}'s ingress hook already has a filter at backhaul's reserved priority ${PRIO_INGRESS_REDIRECT}`, {
        dev: target.dev, hint: `move that filter to another priority (tc filter show dev ${target.dev} ingress)` });
    }
    parts.tc.push({ tool: 'tc', args: ['filter', 'add', 'dev', target.dev, 'parent', redirectParent(ingq), 'protocol', 'all', 'prio',
      String(PRIO_INGRESS_REDIRECT), 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', ifb] });
  }
  return parts;
}

function offloadSteps(target: NetemTarget): Step[] {
  return target.disableOffloads ? [{ tool: 'ethtool', args: ['-K', target.dev, 'tso', 'off', 'gso', 'off', 'gro', 'off'] }] : [];
}

function assemble(target: NetemTarget, pre: Step[], tc: Step[], post: Step[], warnings: string[]): Plan {
  return { ...(target.netns ? { netns: target.netns } : {}), steps: [...pre, ...tc, ...post], warnings };
}

/**
 * Everything needed to put `profile`'s base on `target`, given the live state. Directions the
 * target selects but the profile does not impair, and directions not selected at all, are
 * cleared of anything of ours (so B over A leaves no trace of A). Throws ERR_FOREIGN_ROOT
 * (refusal, nothing done) and ERR_USAGE (direction the profile lacks).
 */
export function planApply(target: NetemTarget, profile: Profile, current: LiveState, opts: PlanOptions): Plan {
  return planState(target, profile, null, current, opts);
}

/**
 * A schedule switch to phase `phaseIndex` (null = the base): only the htb class and the leaf of
 * each active direction change; filters, IFB and redirect stay. Needs our tree in place
 * (ERR_NOT_FOUND otherwise: apply first).
 */
export function planPhase(target: NetemTarget, profile: Profile, phaseIndex: number | null, current: LiveState, opts: PlanOptions): Plan {
  const warnings: string[] = [];
  const tc: Step[] = [];
  for (const dir of activeDirections(target, profile)) {
    const imp = effectiveImpairment(profile, phaseIndex, dir) ?? {};
    const dev = dir === 'egress' ? target.dev : ifbNameFor(target.dev, target.netns);
    const state = dir === 'egress' ? current.dev : current.ifb;
    if (!state || !ourHtb(state.qdiscs)) {
      throw new BackhaulError('ERR_NOT_FOUND', `no backhaul impairment on ${dev} to switch phases on`, { dev, hint: 'apply the profile first' });
    }
    tc.push(...classAndLeafSteps(dev, imp, state, directionNeedsNetem(profile, dir), opts, opts.previous?.[dir], warnings));
  }
  return assemble(target, [], tc, [], warnings);
}

function planState(target: NetemTarget, profile: Profile, phaseIndex: number | null, current: LiveState, opts: PlanOptions): Plan {
  const warnings: string[] = [];
  const active = activeDirections(target, profile);
  const pre: Step[] = [];
  const tc: Step[] = [];
  const post: Step[] = [];
  if (active.includes('egress')) {
    const imp = effectiveImpairment(profile, phaseIndex, 'egress') ?? {};
    tc.push(...treeSteps(target.dev, target.dev, imp, current.dev, target, 'egress', directionNeedsNetem(profile, 'egress'), opts, warnings));
  } else {
    tc.push(...removeTreeSteps(target.dev, target.dev, current.dev));
  }
  if (active.includes('ingress')) {
    const imp = effectiveImpairment(profile, phaseIndex, 'ingress') ?? {};
    const parts = applyIngressParts(target, imp, current, directionNeedsNetem(profile, 'ingress'), opts, warnings);
    pre.push(...parts.pre);
    tc.push(...parts.tc);
  } else {
    const parts = removeIngressParts(target, current);
    tc.push(...parts.tc);
    post.push(...parts.post);
  }
  post.push(...offloadSteps(target));
  return assemble(target, pre, tc, post, warnings);
}

/** Remove everything of ours from the target (egress tree, ingress redirect, IFB). Idempotent. */
export function planRevert(target: Pick<NetemTarget, 'dev' | 'netns'>, current: LiveState): Plan {
  const t = { kind: 'netem' as const, dev: target.dev, direction: 'both' as const, ...(target.netns ? { netns: target.netns } : {}) };
  const ingress = removeIngressParts(t, current);
  return assemble(t, [], [...removeTreeSteps(target.dev, target.dev, current.dev), ...ingress.tc], ingress.post, []);
}
