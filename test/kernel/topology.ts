/**
 * Two-host topologies for the kernel tier, built with `ip -batch` (4 processes instead of ~14:
 * every process costs 0.1-1 s under emulation), shaped like test/support/netns.ts's twoHosts():
 *
 *   [a] a0 ---- b0 [b]      10.77.0.1/24, fd77::1/64  <->  10.77.0.2/24, fd77::2/64
 *
 * `sharedTopology` is one topology for the whole run: cases that use it must leave it as they
 * found it (round trips check that byte for byte; raw-tc cases delete their root in cleanup).
 */
import { Netns, run, uniqueName, type TwoHosts } from '../support/netns.js';
import type { CaseContext } from './harness.js';

/** A Netns handle for a namespace created here (the class's constructor is private). */
function adopt(name: string): Netns {
  return Object.assign(Object.create(Netns.prototype) as Netns, { name });
}

const A = { ip: '10.77.0.1', ip6: 'fd77::1' };
const B = { ip: '10.77.0.2', ip6: 'fd77::2' };

function hostBatch(dev: string, h: { ip: string; ip6: string }): string {
  return [`addr add ${h.ip}/24 dev ${dev}`, `addr add ${h.ip6}/64 dev ${dev} nodad`, `link set ${dev} up`, 'link set lo up'].join('\n') + '\n';
}

export async function quickTwoHosts(): Promise<TwoHosts> {
  const a = adopt(uniqueName('kta'));
  const b = adopt(uniqueName('ktb'));
  const destroy = async (): Promise<void> => {
    for (const ns of [a, b]) {
      const pids = await run(['ip', 'netns', 'pids', ns.name], { allowFail: true });
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    await run(['ip', '-force', '-batch', '-'], { allowFail: true, input: `netns del ${a.name}\nnetns del ${b.name}\n` });
  };
  try {
    await run(['ip', '-batch', '-'], { input: `netns add ${a.name}\nnetns add ${b.name}\nlink add a0 netns ${a.name} type veth peer name b0 netns ${b.name}\n` });
    await run(['ip', '-n', a.name, '-batch', '-'], { input: hostBatch('a0', A) });
    await run(['ip', '-n', b.name, '-batch', '-'], { input: hostBatch('b0', B) });
  } catch (e) {
    await destroy();
    throw e;
  }
  return { a, b, aIf: 'a0', bIf: 'b0', aIp: A.ip, bIp: B.ip, aIp6: A.ip6, bIp6: B.ip6, destroy };
}

/**
 * A value created once per run (first use) and kept in `t.shared`; `destroy` runs after the last
 * case. For expensive set-ups that cases leave as they found them.
 */
export async function once<T>(t: CaseContext, key: string, create: () => Promise<T>, destroy?: (v: T) => Promise<unknown>): Promise<T> {
  if (t.shared.has(key)) return t.shared.get(key) as T;
  const v = await create();
  t.shared.set(key, v);
  if (destroy) t.atEnd(() => destroy(v));
  return v;
}

/** The run's shared two-host topology (created on first use, destroyed after the last case). */
export function sharedTopology(t: CaseContext): Promise<TwoHosts> {
  return once(t, 'topology:shared', () => quickTwoHosts(), (topo) => topo.destroy());
}

/** A fresh two-host topology of the case's own, destroyed in its cleanup. */
export async function topology(t: CaseContext): Promise<TwoHosts> {
  const topo = await quickTwoHosts();
  t.defer(() => topo.destroy());
  return topo;
}

/** Throws unless `dev` has the kernel-default root and nothing else (no qdisc, class or filter). */
export async function assertPristine(ns: Netns, dev: string): Promise<void> {
  const q = JSON.parse((await ns.exec(['tc', '-j', 'qdisc', 'show', 'dev', dev])).stdout) as { kind: string; root?: boolean }[];
  if (q.length !== 1 || q[0]?.kind !== 'noqueue') throw new Error(`${dev} in ${ns.name} is not pristine (an earlier case left something): ${JSON.stringify(q)}`);
}
