/**
 * The tc backend: read state -> plan (pure) -> execute (runner) -> read back.
 *
 * Contracts (see agent/backend.ts): apply is idempotent and replaces any previous profile
 * completely; revert of nothing resolves; status reads live state. Partial failure: if an apply
 * fails midway (tc's batch is not transactional), everything of ours on the target is reverted
 * before the error is rethrown, so a failed apply leaves the interface as it was without us.
 * Cancellation: an aborted signal stops before the next step and is handled like a failure.
 */
import { BackhaulError, isBackhaulError } from '../../core/errors.js';
import type { Direction, Impairment, Profile } from '../../core/profile.js';
import type { Applied, ImpairmentBackend, NetemTarget, Target } from '../backend.js';
import { release } from 'node:os';
import { iproute2Version, probeCapabilities, probeNetemSeed, requireCapabilities, type Capabilities } from './capabilities.js';
import { attachPoint, ingressQdisc, ourRedirect, type DevTcState, type LiveState } from './live-state.js';
import { PRIO_INGRESS_REDIRECT, PRIO_NEIGHBOUR_ND } from './handles.js';
import { presenceOf, type Presence } from './presence.js';
import { displayCidr, formatMatchRule } from './match.js';
import { ifbNameFor, parseIfbAlias } from './names.js';
import { validateNetemTarget } from './validate-target.js';
import { decodeSelector, readBack } from './parse.js';
import { parseLinks } from './tc-json.js';
import { planApply, planPhase, planRevert, type Plan, type PlanOptions } from './plan.js';
import { TcRunner } from './runner.js';
import {
  defaultStateDir, parseEthtoolFeatures, readRecord, removeRecord, restoreOffloadArgs, writeRecord, type OffloadState,
} from './target-record.js';

// Re-exported: it lives in a light module so the CLI can validate flags without loading execa.
export { validateNetemTarget };

export interface NetemBackendOptions {
  runner?: TcRunner;
  /** fixed capabilities (tests), or probed once on first use */
  capabilities?: Capabilities;
  stateDir?: string;
}

function asNetem(t: Target): NetemTarget {
  if (t.kind !== 'netem') throw new BackhaulError('ERR_UNSUPPORTED', `the netem backend cannot drive a ${t.kind} target`);
  return validateNetemTarget(t);
}

export function planUsesNetem(plan: Plan): boolean {
  return plan.steps.some((s) => s.tool === 'tc' && s.args.includes('netem'));
}

export function planCreatesIfb(plan: Plan): boolean {
  return plan.steps.some((s) => s.tool === 'ip' && s.args[1] === 'add' && s.args.includes('ifb'));
}

/** Per-packet impairments that GSO/GRO super-packets distort (one decision per up-to-64 KB packet). */
function perPacket(imp: Impairment | undefined): boolean {
  return Boolean(imp && (imp.loss || imp.corruptPct || imp.duplicatePct || imp.reorderPct));
}

export class NetemBackend implements ImpairmentBackend {
  readonly kind = 'netem' as const;
  readonly runner: TcRunner;
  private caps: Capabilities | undefined;
  private readonly stateDir: string;

  constructor(opts: NetemBackendOptions = {}) {
    this.runner = opts.runner ?? new TcRunner();
    this.caps = opts.capabilities;
    this.stateDir = opts.stateDir ?? defaultStateDir();
  }

  async capabilities(): Promise<Capabilities> {
    this.caps ??= await probeCapabilities(this.runner);
    return this.caps;
  }

  /** Kernel and iproute2 versions (no privilege needed). */
  async versions(): Promise<{ kernel: string; iproute2: string }> {
    return { kernel: this.caps?.kernel ?? release(), iproute2: this.caps?.iproute2 ?? (await iproute2Version(this.runner)) };
  }

  /** The plan `apply` would execute now (for --dry-run): reads state, changes nothing. */
  async plan(target: NetemTarget, profile: Profile, current?: LiveState): Promise<Plan> {
    const t = validateNetemTarget(target);
    const state = current ?? (await this.runner.readLiveState(t));
    const seedSupported = this.caps ? this.caps.netemSeed : await probeNetemSeed(this.runner);
    return planApply(t, profile, state, { seedSupported });
  }

  async apply(target: Target, profile: Profile, signal?: AbortSignal): Promise<Applied> {
    const t = asNetem(target);
    const caps = await this.capabilities();
    signal?.throwIfAborted();
    const current = await this.runner.readLiveState(t);
    const plan = planApply(t, profile, current, { seedSupported: caps.netemSeed });
    requireCapabilities(caps, { netem: planUsesNetem(plan), ifb: planCreatesIfb(plan) });
    const record = await readRecord(this.stateDir, t.dev, t.netns);
    let offloads: OffloadState | undefined = record?.offloads;
    const warnings = [...plan.warnings];
    if (t.disableOffloads || perPacket(profile.egress) || perPacket(profile.ingress)) {
      const features = await this.readOffloads(t);
      if (t.disableOffloads) offloads ??= features;
      else if (features.gso || features.gro || features.tso) {
        warnings.push(`GSO/TSO/GRO are on for ${t.dev}: loss, corruption and duplication then act on up to 64 KB super-packets; use --disable-offloads for per-packet fidelity`);
      }
    }
    try {
      await this.runner.execute(plan, signal);
    } catch (e) {
      await this.cleanupAfterFailure(t, offloads);
      throw e;
    }
    await writeRecord(this.stateDir, t.dev, t.netns, {
      profile: profile.name, appliedAt: new Date().toISOString(), ...(offloads ? { offloads } : {}),
    });
    const applied = await this.status(t);
    if (!applied) throw new BackhaulError('ERR_INTERNAL', `apply of ${profile.name} to ${t.dev} left nothing to read back`);
    return { ...applied, profileName: profile.name, details: { ...applied.details, warnings } };
  }

  /**
   * Switch a scheduled profile to phase `phaseIndex` (null = the base): one tc batch touching only
   * the class rate and the leaf. `previous` = what the caller applied last per direction (lets the
   * leaf be changed in place instead of re-grafted; see leafNeedsRecreate).
   */
  async applyPhase(target: NetemTarget, profile: Profile, phaseIndex: number | null,
    previous?: Partial<Record<Direction, Impairment>>, signal?: AbortSignal): Promise<Plan> {
    const t = validateNetemTarget(target);
    const caps = await this.capabilities();
    const current = await this.runner.readLiveState(t);
    const opts: PlanOptions = { seedSupported: caps.netemSeed, ...(previous ? { previous } : {}) };
    const plan = planPhase(t, profile, phaseIndex, current, opts);
    await this.runner.execute(plan, signal);
    return plan;
  }

  async revert(target: Target, signal?: AbortSignal): Promise<void> {
    const t = asNetem(target);
    signal?.throwIfAborted();
    let current: LiveState;
    try {
      current = await this.runner.readLiveState(t);
    } catch (e) {
      // The interface is gone (a container restarted, a veth was deleted): its qdiscs went with
      // it, but our IFB lives on in the namespace. Remove that, and the record; nothing else is ours.
      if (!isBackhaulError(e) || e.code !== 'ERR_INTERFACE_NOT_FOUND') throw e;
      await this.removeOrphanIfb(t);
      await removeRecord(this.stateDir, t.dev, t.netns);
      return;
    }
    await this.runner.execute(planRevert(t, current), signal);
    const record = await readRecord(this.stateDir, t.dev, t.netns);
    if (record?.offloads) await this.runner.run(this.ethtoolArgv(t, restoreOffloadArgs(t.dev, record.offloads)));
    await removeRecord(this.stateDir, t.dev, t.netns);
  }

  async status(target: Target): Promise<Applied | null> {
    const t = asNetem(target);
    const current = await this.runner.readLiveState(t);
    const egress = readBack(current.dev);
    const ifbOurs = current.ifb && parseIfbAlias(current.ifb.alias)?.dev === t.dev ? current.ifb : null;
    const ingress = ifbOurs ? readBack(ifbOurs) : null;
    if (!egress && !ingress && !ifbOurs) return null;
    const record = await readRecord(this.stateDir, t.dev, t.netns);
    const versions = await this.versions();
    const selectors = (dir: Direction): string[] =>
      (dir === 'egress' ? current.dev.filters : (ifbOurs?.filters ?? [])).map((f) => {
        const d = decodeSelector(f);
        const peer = dir === 'egress' ? d.dst : d.src;
        const port = dir === 'egress' ? d.dport : d.sport;
        const to = d.flowid === 'bac0:' ? 'unimpaired' : 'impaired';
        if (f.protocol === 'arp') return `prio ${d.pref} arp -> ${to}`;
        if (d.pref === PRIO_NEIGHBOUR_ND && d.family === 6 && d.protocol === 58) return `prio ${d.pref} ipv6 neighbour discovery -> ${to}`;
        return `prio ${d.pref} ${peer ? `peer=${displayCidr(peer)}` : 'all'}${port ? `,port=${port}` : ''}${d.protocol ? `,proto=${d.protocol === 6 ? 'tcp' : d.protocol === 17 ? 'udp' : d.protocol}` : ''} -> ${to}`;
      });
    return {
      target: t,
      backend: 'netem',
      ...(record && (egress || ingress) ? { profileName: record.profile } : {}),
      ...(egress ? { egress: egress.impairment } : {}),
      ...(ingress ? { ingress: ingress.impairment } : {}),
      details: {
        kernel: versions.kernel,
        iproute2: versions.iproute2,
        ...(record ? { appliedAt: record.appliedAt } : {}),
        ...(egress ? { egressTree: { attachedAt: egress.attachedAt, leaf: egress.leafKind, leafHandle: egress.leafHandle, filters: selectors('egress'), unreadable: egress.unreadable,
          ...foreignRevertOf(current.dev, t.dev) } } : {}),
        ...(ifbOurs ? { ifb: ifbNameFor(t.dev, t.netns), ingressHook: ingressHookOf(current, ifbNameFor(t.dev, t.netns)) } : {}),
        ...(ingress ? { ingressTree: { attachedAt: ingress.attachedAt, leaf: ingress.leafKind, leafHandle: ingress.leafHandle, filters: selectors('ingress'), unreadable: ingress.unreadable } } : {}),
        ...(record?.offloads ? { offloadsRecorded: record.offloads } : {}),
      },
    };
  }

  /**
   * Whether `profile`, applied to `target`, is still wholly in effect: every part its apply installs
   * is there (presence.ts). Reads live state; throws ERR_INTERFACE_NOT_FOUND when the device is gone.
   */
  async presence(target: Target, profile: Profile): Promise<Presence> {
    const t = asNetem(target);
    return presenceOf(t, profile, await this.runner.readLiveState(t));
  }

  /** Delete our IFB for `t.dev` if it exists and its alias says it is ours for that device. */
  private async removeOrphanIfb(t: NetemTarget): Promise<void> {
    const name = ifbNameFor(t.dev, t.netns);
    const ns = t.netns ? ['-n', t.netns] : [];
    const r = await this.runner.run(['ip', ...ns, '-j', 'link', 'show', 'dev', name], { allowFail: true });
    if (r.exitCode !== 0) return;
    const alias = parseLinks(r.stdout)[0]?.alias;
    if (parseIfbAlias(alias)?.dev === t.dev) await this.runner.run(['ip', ...ns, 'link', 'del', 'dev', name]);
  }

  /** Current TSO/GSO/GRO; empty when ethtool is missing or the driver does not say. */
  async readOffloads(t: NetemTarget): Promise<OffloadState> {
    try {
      return parseEthtoolFeatures((await this.runner.run(this.ethtoolArgv(t, ['-k', t.dev]), { allowFail: true })).stdout);
    } catch (e) {
      if (isBackhaulError(e) && e.code === 'ERR_CAPABILITY_MISSING') return {};
      throw e;
    }
  }

  /**
   * The ethtool argv that gives back the offloads an apply turned off (from the target's record),
   * or null when none were changed. `ahead`: for the write-ahead plan of an apply that is about to
   * turn them off, what is on now (read here) when there is no record yet. Idempotent to run.
   */
  async offloadRestoreArgv(target: Target, ahead = false): Promise<string[] | null> {
    const t = asNetem(target);
    const record = await readRecord(this.stateDir, t.dev, t.netns);
    const offloads = record?.offloads ?? (ahead && t.disableOffloads ? await this.readOffloads(t) : undefined);
    if (!offloads || Object.keys(offloads).length === 0) return null;
    return this.ethtoolArgv(t, restoreOffloadArgs(t.dev, offloads));
  }

  private ethtoolArgv(t: NetemTarget, args: string[]): string[] {
    return t.netns ? ['ip', 'netns', 'exec', t.netns, 'ethtool', ...args] : ['ethtool', ...args];
  }

  private async cleanupAfterFailure(t: NetemTarget, offloads: OffloadState | undefined): Promise<void> {
    try {
      const state = await this.runner.readLiveState(t);
      await this.runner.execute(planRevert(t, state));
      if (offloads) await this.runner.run(this.ethtoolArgv(t, restoreOffloadArgs(t.dev, offloads)), { allowFail: true });
      await removeRecord(this.stateDir, t.dev, t.netns);
    } catch (e) {
      // Report the original failure; the cleanup failure is secondary (status shows what is left).
      if (!isBackhaulError(e)) throw e;
    }
  }
}

/**
 * How our redirect sits on the device's ingress hook: whose qdisc it is, whether our filter is
 * there, and how many foreign filters run before it (they may redirect or bypass traffic first).
 */
export function ingressHookOf(current: LiveState, ifb: string): { qdisc: string | null; redirect: boolean; filtersBefore: number; filtersAfter: number } {
  const q = ingressQdisc(current.dev.qdiscs);
  const ours = ourRedirect(current.dev.ingressFilters, ifb);
  const others = current.dev.ingressFilters.filter((f) => f !== ours);
  return {
    qdisc: q ? q.kind : null,
    redirect: Boolean(ours),
    filtersBefore: others.filter((f) => f.pref < PRIO_INGRESS_REDIRECT).length,
    filtersAfter: others.filter((f) => f.pref > PRIO_INGRESS_REDIRECT).length,
  };
}

/** One-line summary of a rule list for humans. */
/**
 * How `clear` will leave a foreign root we are grafted under: `exact` (tbf put back as it was,
 * its invisible default child recreated) or a visible `bfifo bacf:` and why. Absent at the root.
 */
function foreignRevertOf(state: DevTcState, dev: string): { foreignRevert?: string } {
  try {
    const ap = attachPoint(state, dev);
    if (ap.mode !== 'graft' || !ap.restore) return {};
    return { foreignRevert: ap.restore.exact ? `exact: clear puts the ${ap.foreign.kind} ${ap.foreign.handle} back as it was`
      : `inexact: clear leaves a visible bfifo bacf: (limit ${ap.restore.limitBytes} bytes) under ${ap.foreign.kind} ${ap.foreign.handle}, because ${ap.restore.reason}` };
  } catch {
    return {};
  }
}

export function describeRules(rules: NetemTarget['match']): string {
  return (rules ?? []).map(formatMatchRule).join('; ');
}

