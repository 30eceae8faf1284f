/**
 * Bundled profiles through our netem backend on a real sch_netem: apply; `status` reads back the
 * same impairment field by field; the netem qdiscs tc shows carry the profile's values (checked
 * with this tier's own unit conversions); revert restores `tc -j` qdisc/class/filter output and
 * the namespace's links byte-identically (IFB gone). Under a foreign tbf root the same, plus the
 * tbf's raw dump and invisible default child (foreignSnapshot). The round trips share one
 * topology: each checks it leaves it as found.
 */
import type { NetemTarget } from '../../../agent/backend.js';
import type { Direction, Profile } from '../../../core/profile.js';
import { effectiveImpairment } from '../../../core/schedule.js';
import { loadProfile } from '../../../agent/profile-library.js';
import type { CaseContext, KernelCase } from '../harness.js';
import type { Netns } from '../../support/netns.js';
import { diffImpairment, rawNetemDiff } from '../expect-impairment.js';
import { diffLines, snapshot } from '../tc-state.js';
import { ping } from '../traffic.js';
import { sharedTopology } from '../topology.js';
import { expectedReadBack, sharedBackend, UNREADABLE } from '../netem-adapter.js';

export interface DevQdisc {
  dev: string;
  kind: string;
  handle: string;
  parent?: string;
  options?: Record<string, unknown>;
}

/** Every qdisc in the namespace, with its device (`tc -j qdisc show` without `dev`). */
export async function allQdiscs(ns: Netns): Promise<DevQdisc[]> {
  return JSON.parse((await ns.exec(['tc', '-j', 'qdisc', 'show'])).stdout) as DevQdisc[];
}

/** The netem that impairs `direction`: on `dev` for egress, on any other device (the IFB) for ingress. */
export function netemFor(qs: readonly DevQdisc[], dev: string, direction: Direction): DevQdisc | undefined {
  return qs.find((q) => q.kind === 'netem' && (direction === 'egress' ? q.dev === dev : q.dev !== dev));
}

export interface RoundTrip {
  profile: string | (() => Promise<Profile>);
  target?: Partial<Pick<NetemTarget, 'direction' | 'match' | 'exclude'>>;
  /**
   * A foreign root installed first (and removed after the case): revert must restore the whole
   * state byte-identically, the tbf's raw dump and invisible child included (foreignSnapshot),
   * status must promise that, and traffic must flow.
   */
  foreignRoot?: string[];
  why: string;
}

/**
 * The state a revert under a foreign tbf must restore: `snapshot` (tc -j qdisc/class/filter and
 * links) plus the raw dump (exact limit and buffer ticks) and the invisible qdiscs (tbf's default
 * bfifo child, which `tc qdisc show` hides), as test/agent/netem/netem-backend.priv.test.ts does
 * on the host. This tbf has no peakrate, so the backend promises an exact revert
 * (agent/netem/tbf-revert.ts): a leftover visible bfifo `bacf:`, a tbf on noop or a changed
 * rate/burst/limit shows here.
 */
async function foreignSnapshot(ns: Netns, dev: string): Promise<string> {
  const raw = await ns.exec(['tc', '-raw', '-d', '-j', 'qdisc', 'show', 'dev', dev]);
  const invisible = await ns.exec(['tc', '-d', 'qdisc', 'show', 'dev', dev, 'invisible']);
  return `${await snapshot(ns, dev)}\n$ tc -raw -d -j qdisc show dev ${dev}\n${raw.stdout}\n$ tc -d qdisc show dev ${dev} invisible\n${invisible.stdout}`;
}

/** The state after revert must equal the snapshot before apply byte for byte. */
async function roundTrip(t: CaseContext, rt: RoundTrip): Promise<void> {
  const profile = typeof rt.profile === 'string' ? await loadProfile(rt.profile) : await rt.profile();
  const clock = stopwatch();
  const { a, aIf, bIp } = await sharedTopology(t);
  clock.lap('topology');
  if (rt.foreignRoot) {
    await a.exec(['tc', 'qdisc', 'add', 'dev', aIf, 'root', ...rt.foreignRoot]);
    t.defer(() => a.exec(['tc', 'qdisc', 'del', 'dev', aIf, 'root'])); // back to the kernel default for the next case
  }
  const take = (): Promise<string> => (rt.foreignRoot ? foreignSnapshot(a, aIf) : snapshot(a, aIf));
  const before = await take();
  if (rt.foreignRoot && !/bfifo 0: parent 1:1/.test(before)) throw new Error(`the foreign tbf has no invisible default bfifo to begin with:\n${before}`);
  const backend = await sharedBackend(t);
  const target: NetemTarget = { kind: 'netem', dev: aIf, netns: a.name, direction: profile.ingress ? 'both' : 'egress', ...rt.target };
  let applied = false;
  t.defer(async () => {
    if (applied) await backend.revert(target); // a failure here is reported as a cleanup failure
  });
  clock.lap('snapshot');
  await backend.apply(target, profile);
  applied = true;
  clock.lap('apply');
  const status = await backend.status(target);
  clock.lap('status');
  if (!status) throw new Error('status after apply: nothing of ours found');
  const phase = null; // apply installs the base; phases are switched by the schedule runner (schedule cases)
  const directions: Direction[] = target.direction === 'both' ? ['egress', 'ingress'] : [target.direction];
  const qs = await allQdiscs(a);
  for (const dir of directions) {
    const want = effectiveImpairment(profile, phase, dir);
    if (!want) continue;
    const got = dir === 'egress' ? status.egress : status.ingress;
    for (const d of diffImpairment(expectedReadBack(want), got, UNREADABLE)) t.check(false, `status ${dir}: ${d}`);
    const netem = netemFor(qs, aIf, dir);
    const hasNetemFields = Object.keys(want).some((k) => k !== 'rateKbit' && k !== 'limitPackets');
    if (hasNetemFields) {
      if (!netem) t.check(false, `${dir}: no netem qdisc in tc (devices: ${qs.map((q) => `${q.dev}:${q.kind}`).join(' ')})`);
      else for (const d of rawNetemDiff(netem.options, want)) t.check(false, `${dir} (${netem.dev}): ${d}`);
    }
  }
  t.log(`netem leaves on: ${qs.filter((q) => q.kind === 'netem').map((q) => q.dev).join(', ') || 'none'}`);
  if (rt.foreignRoot) {
    const promise = (status.details as { egressTree?: { foreignRevert?: string } } | undefined)?.egressTree?.foreignRevert;
    t.check(promise?.startsWith('exact:') === true, `status does not promise an exact revert under the tbf: ${JSON.stringify(promise)}`);
  }
  clock.lap('checks');
  await backend.revert(target);
  applied = false;
  clock.lap('revert');
  const after = await take();
  t.check(after === before, `state after revert differs:\n${diffLines(before, after)}`);
  if (rt.foreignRoot) {
    // tc output alike but a noop child would drop everything (the raw-tc case shows that black hole).
    const s = await ping(a, bIp, { count: 20, intervalS: 0.02 });
    t.check(s.replies.size === s.transmitted, `traffic after revert: ${s.replies.size}/${s.transmitted} answered`);
  }
  clock.lap('after');
  t.log(clock.report());
}

/** Step timings for the log (figures only: nothing is asserted on them). */
function stopwatch(): { lap(name: string): void; report(): string } {
  let last = Date.now();
  const laps: string[] = [];
  return {
    lap: (name) => {
      const now = Date.now();
      laps.push(`${name} ${((now - last) / 1000).toFixed(1)}s`);
      last = now;
    },
    report: () => `times: ${laps.join(', ')}`,
  };
}

const ROUND_TRIPS: { name: string; rt: RoundTrip }[] = [
  { name: 'lte-good', rt: { profile: 'lte-good', why: 'ingress via IFB, Gilbert-Elliott, rate' } },
  { name: 'wifi-congested', rt: { profile: 'wifi-congested', why: 'slot, duplicate, pareto, GE with 1-h 50%' } },
  { name: 'nlc-very-bad-network', rt: { profile: 'nlc-very-bad-network', why: 'random loss, rate, both directions' } },
  { name: 'leo-starlink', rt: { profile: 'leo-starlink', why: 'a schedule (15 s aligned), paretonormal' } },
  {
    name: 'dsl-rural-poor --match',
    rt: { profile: 'dsl-rural-poor', target: { direction: 'egress', match: [{ peer: '10.77.0.2/32' }] }, why: '--match (u32), egress only' },
  },
  {
    name: 'lte-good under a foreign tbf root',
    rt: {
      profile: 'lte-good',
      target: { direction: 'egress' },
      foreignRoot: ['handle', '1:', 'tbf', 'rate', '50mbit', 'burst', '64kbit', 'latency', '50ms'],
      why: 'grafted under a foreign root; exact revert: tc -j, raw dump and invisible child byte-identical, traffic flowing',
    },
  },
];

const capabilityCase: KernelCase = {
  name: 'backend: the capability probe finds netem, htb, tbf, ingress, ifb, u32 and mirred on this kernel',
  timeoutMs: 90_000,
  run: async (t) => {
    const caps = await (await sharedBackend(t)).capabilities(); // probed once; later cases reuse it
    t.log(`kernel ${caps.kernel}, iproute2 ${caps.iproute2}, netem seed ${caps.netemSeed ? 'supported' : 'not supported'}`);
    for (const [kind, v] of Object.entries(caps.qdisc)) t.check(v === 'yes', `qdisc ${kind}: ${v}`);
    for (const k of ['ifb', 'u32', 'mirred'] as const) t.check(caps[k] === 'yes', `${k}: ${caps[k]}`);
    t.check(caps.netAdmin, 'netAdmin is false (running as root in the guest)');
  },
};

export const profileCases: KernelCase[] = [
  capabilityCase,
  ...ROUND_TRIPS.map(({ name, rt }) => ({
    name: `profile ${name}: apply, status reads back field by field, revert is byte-identical (${rt.why})`,
    run: (t: CaseContext) => roundTrip(t, rt),
  })),
];
