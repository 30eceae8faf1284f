/**
 * What this machine can do, probed per qdisc kind (kernels differ: the build machines' 6.18 has
 * htb/tbf/ifb/u32/mirred but no netem/prio/fq_codel/cake). Probes run in a scratch network
 * namespace (`unshare -n`), so nothing is ever added to a real interface and nothing is left
 * behind. Kernel and iproute2 versions are recorded for status output and measurements.
 *
 * Probing needs CAP_SYS_ADMIN + CAP_NET_ADMIN (root). Without them every kind reads as
 * 'unknown' and `netAdmin` as false; apply then fails with ERR_PERMISSION.
 */
import { release } from 'node:os';
import { BackhaulError } from '../../core/errors.js';
import type { TcRunner } from './runner.js';

export type Availability = 'yes' | 'no' | 'unknown';

export interface Capabilities {
  kernel: string;
  /** e.g. '6.1.0' (from `tc -V`), or the raw version string */
  iproute2: string;
  qdisc: Record<'netem' | 'htb' | 'tbf' | 'pfifo' | 'ingress', Availability>;
  ifb: Availability;
  u32: Availability;
  mirred: Availability;
  /** tc's netem parser understands `seed` (iproute2 >= 6.3-ish) */
  netemSeed: boolean;
  /** we may change qdiscs (probe in a scratch namespace succeeded for a kind we know exists) */
  netAdmin: boolean;
}

/** Arguments that exercise each qdisc kind on `lo` of a scratch namespace. */
const QDISC_PROBES: Record<keyof Capabilities['qdisc'], string[]> = {
  netem: ['qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'],
  htb: ['qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb'],
  tbf: ['qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', '1mbit', 'burst', '10kb', 'latency', '10ms'],
  pfifo: ['qdisc', 'add', 'dev', 'lo', 'root', 'pfifo'],
  ingress: ['qdisc', 'add', 'dev', 'lo', 'ingress'],
};

function availability(exitCode: number, stderr: string): Availability {
  if (exitCode === 0) return 'yes';
  if (/kind is unknown|qdisc not found|Unknown qdisc|No such file or directory|not supported|Unknown device type|Unknown filter|Unknown action/i.test(stderr)) return 'no';
  return 'unknown';
}

/** 'tc utility, iproute2-6.1.0, libbpf 1.1.2' -> '6.1.0'; 'iproute2-ss200127' -> 'ss200127'. */
export function parseIproute2Version(text: string): string {
  const m = /iproute2-(?:ss)?([\w.]+)/.exec(text);
  if (m) return text.includes('iproute2-ss') ? `ss${m[1]}` : (m[1] as string);
  return text.trim() || 'unknown';
}

/** Whether tc's netem parser takes `seed` (checked on a device that cannot exist: parse only). */
export async function probeNetemSeed(runner: TcRunner): Promise<boolean> {
  const r = await runner.run(['tc', 'qdisc', 'add', 'dev', 'bh-no-such-dev', 'root', 'netem', 'seed', '1'], { allowFail: true });
  return !/What is "seed"/.test(r.stderr);
}

export async function iproute2Version(runner: TcRunner): Promise<string> {
  const r = await runner.run(['tc', '-V'], { allowFail: true });
  return parseIproute2Version(r.stdout + r.stderr);
}

/** Probe everything (about a dozen short processes; call once and keep the result). */
export async function probeCapabilities(runner: TcRunner): Promise<Capabilities> {
  const scratch = (argv: string[]): Promise<{ exitCode: number; stderr: string }> =>
    runner.run(['unshare', '-n', ...argv], { allowFail: true });
  const qdisc = {} as Capabilities['qdisc'];
  for (const [kind, args] of Object.entries(QDISC_PROBES) as [keyof Capabilities['qdisc'], string[]][]) {
    const r = await scratch(['tc', ...args]);
    qdisc[kind] = availability(r.exitCode, r.stderr);
  }
  const ifbR = await scratch(['ip', 'link', 'add', 'bhprobe0', 'type', 'ifb']);
  const ifb = availability(ifbR.exitCode, ifbR.stderr);
  // u32 + mirred in one go: an ingress qdisc with our redirect to lo itself.
  const filt = await scratch(['sh', '-c',
    'tc qdisc add dev lo ingress && tc filter add dev lo parent ffff:fff2 protocol all prio 1 u32 match u32 0 0 action mirred egress redirect dev lo']);
  const u32: Availability = filt.exitCode === 0 ? 'yes' : /Unknown filter|u32/i.test(filt.stderr) ? 'no' : 'unknown';
  const mirred: Availability = filt.exitCode === 0 ? 'yes' : /Unknown action|mirred/i.test(filt.stderr) ? 'no' : 'unknown';
  return {
    kernel: release(),
    iproute2: await iproute2Version(runner),
    qdisc,
    ifb,
    u32,
    mirred,
    netemSeed: await probeNetemSeed(runner),
    netAdmin: qdisc.htb === 'yes' || qdisc.pfifo === 'yes',
  };
}

export const NETEM_MISSING_HINT =
  'modprobe sch_netem; on RHEL/Fedora install kernel-modules-extra, on Ubuntu linux-modules-extra-$(uname -r) ' +
  '(containers cannot load modules: the host must); or impair in user space instead: `backhaul relay --listen ADDR:PORT --upstream HOST:PORT --profile NAME` (an agent: a relay target)';

/**
 * Throw the actionable error for the first thing this apply needs that the machine lacks.
 * `needsNetem`/`needsIfb` come from the plan. 'unknown' never blocks (the apply itself will tell).
 */
export function requireCapabilities(caps: Capabilities, needs: { netem: boolean; ifb: boolean }): void {
  if (!caps.netAdmin && caps.qdisc.htb !== 'no') {
    throw new BackhaulError('ERR_PERMISSION', 'changing qdiscs needs CAP_NET_ADMIN (and root to probe in a scratch namespace)', {
      hint: 'run as root, or grant CAP_NET_ADMIN (docker run --cap-add NET_ADMIN; Kubernetes capabilities.add: [NET_ADMIN])',
    });
  }
  if (caps.qdisc.htb === 'no') {
    throw new BackhaulError('ERR_CAPABILITY_MISSING', `the htb qdisc is not available in this kernel (${caps.kernel})`, {
      kernel: caps.kernel, hint: 'modprobe sch_htb (RHEL/Fedora: kernel-modules-extra; Ubuntu: linux-modules-extra-$(uname -r))',
    });
  }
  if (needs.netem && caps.qdisc.netem === 'no') {
    throw new BackhaulError('ERR_CAPABILITY_MISSING', `sch_netem is not available in this kernel (${caps.kernel}); this profile needs it (delay, loss, jitter, ...)`, {
      kernel: caps.kernel, iproute2: caps.iproute2, hint: NETEM_MISSING_HINT,
    });
  }
  if (needs.ifb && caps.ifb === 'no') {
    throw new BackhaulError('ERR_CAPABILITY_MISSING', `the ifb driver is not available in this kernel (${caps.kernel}); ingress impairment needs it`, {
      kernel: caps.kernel, hint: 'modprobe ifb (RHEL/Fedora: kernel-modules-extra; Ubuntu: linux-modules-extra-$(uname -r)), or impair the peer\'s egress instead',
    });
  }
  if (needs.ifb && (caps.u32 === 'no' || caps.mirred === 'no')) {
    throw new BackhaulError('ERR_CAPABILITY_MISSING', 'ingress impairment needs the u32 classifier and the mirred action (cls_u32, act_mirred)', {
      kernel: caps.kernel, hint: 'modprobe cls_u32 act_mirred',
    });
  }
}
