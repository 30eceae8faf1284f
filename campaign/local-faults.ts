/**
 * Faults the controller executes on its own host: any fault that names a network namespace
 * (`netns:`) is run here with `ip -n NETNS ...` instead of on the site (lab setups: namespaces or
 * VMs on the controller's host). Needs root (CAP_NET_ADMIN). No shell; argv only.
 *
 *   link-down  ip -n NS link set dev DEV down ... (duration) ... up
 *   flap       count x (down for downFor, up for upFor)
 *   blackhole  ip netns exec NS nft SCRIPT ... (duration) ... delete of its table: drops what NS
 *              sends to PEER AND what arrives from it (the agent's planner: agent/faults/fault-plan.ts)
 *
 * The restore runs even when the campaign is interrupted (the wait is cut short, the restore is
 * not). `startMs` is taken right BEFORE the command that starts the fault and `endMs` right after
 * the one that ends it: a command takes effect somewhere inside its run (0.1-1 s for one `ip`
 * process on a loaded or emulated host), so [startMs, endMs] contains the fault; an outage never
 * begins before its recorded injection (failover matching allows only a probe interval there).
 */
import type { Clock } from '../core/clock.js';
import { planFault } from '../agent/faults/fault-plan.js';
import { ipRunner as agentIpRunner } from '../agent/faults/fault-manager.js';
import type { FaultSpec } from './spec.js';

export type Runner = (argv: string[]) => Promise<void>;

/** The agent's runner: no shell; a missing tool is ERR_CAPABILITY_MISSING, other failures ERR_TC_FAILED. */
export const ipRunner: Runner = agentIpRunner;

export function isLocalFault(f: FaultSpec): boolean {
  return 'netns' in f && typeof f.netns === 'string';
}

/** The argv pairs (start, restore) of one fault period. Pure. */
export function planLocalFault(f: FaultSpec): { start: string[]; restore: string[] } {
  const ns = (f as { netns?: string }).netns as string;
  if (f.kind === 'blackhole') return planFault({ kind: 'blackhole', peer: f.peer, netns: ns, durationMs: f.durationMs });
  return planFault({ kind: 'link-down', dev: f.dev, netns: ns, durationMs: 1 });
}

export async function runLocalFault(f: FaultSpec, clock: Clock, signal?: AbortSignal, run: Runner = ipRunner): Promise<{ startMs: number; endMs: number }> {
  const plan = planLocalFault(f);
  const periods = f.kind === 'flap' ? Array.from({ length: f.count }, () => ({ down: f.downForMs, up: f.upForMs })) : [{ down: f.durationMs, up: 0 }];
  let startMs = Number.NaN;
  let endMs = Number.NaN;
  for (const [i, p] of periods.entries()) {
    if (i === 0) startMs = clock.wallMs();
    await run(plan.start);
    try {
      await clock.sleep(p.down, signal);
    } catch {
      /* interrupted: restore at once */
    } finally {
      await run(plan.restore);
      endMs = clock.wallMs();
    }
    if (signal?.aborted) break;
    if (p.up > 0 && i < periods.length - 1) await clock.sleep(p.up, signal).catch(() => undefined);
  }
  return { startMs, endMs };
}
