/**
 * `backhaul fault ...` on this host, in the foreground. Order (nothing is touched before step 4):
 *
 *   1. flags validated (fault.ts: exit 2)      3. the target exists (interface / namespace: exit 2), nft present (exit 3)
 *   2. root / CAP_NET_ADMIN (exit 3)           4. not someone else's: the link is up / no table for that peer yet (exit 5)
 *   5. the management path (SSH client) is not cut (exit 6)
 *   6. a revert guard takes the restore -> start -> wait -> restore (agent/faults/fault-foreground.ts)
 *
 * Ctrl-C / SIGTERM (ctx.signal) cut the wait short and the restore runs at once. When the restore
 * fails twice, the guard is released to try once more and the command to run by hand is printed
 * (exit 4).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackhaulError } from '../../core/errors.js';
import { systemClock } from '../../core/clock.js';
import { formatDurationMs } from '../../agent/duration.js';
import type { FaultInput } from '../../agent/api/validate-faults.js';
import { RevertGuard } from '../../agent/guard/guard-client.js';
import { TcRunner } from '../../agent/netem/runner.js';
import { defaultStateDir } from '../../agent/netem/target-record.js';
import { runFaultForeground, type ForegroundEvent } from '../../agent/faults/fault-foreground.js';
import { blackholeTable, cidrContains, type FaultRequestInput } from '../../agent/faults/fault-plan.js';
import { routeDevs } from '../../agent/faults/fault-manager.js';
import type { CliContext } from '../context.js';
import { emit } from '../output.js';
import type { FaultFlags } from './fault.js';

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** The capabilities a fault needs that `CapEff` (hex, from /proc/self/status) lacks. Pure. */
export function missingCaps(procStatus: string, needs: { netns: boolean }): string[] {
  const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(procStatus);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  const has = (bit: number): boolean => ((eff >> BigInt(bit)) & 1n) === 1n;
  return [...(has(CAP_NET_ADMIN) ? [] : ['CAP_NET_ADMIN']), ...(needs.netns && !has(CAP_SYS_ADMIN) ? ['CAP_SYS_ADMIN'] : [])];
}

/** The SSH client's address from $SSH_CONNECTION / $SSH_CLIENT ('client port server port'), or null. */
export function sshClient(env: NodeJS.ProcessEnv): string | null {
  const text = env['SSH_CONNECTION'] ?? env['SSH_CLIENT'];
  const addr = text?.trim().split(/\s+/)[0];
  return addr ? addr : null;
}

/** Whether `ip -j link show dev X` output says the link is administratively up. */
export function linkIsUp(ipJson: string): boolean {
  try {
    const [l] = JSON.parse(ipJson) as { flags?: string[] }[];
    return (l?.flags ?? []).includes('UP');
  } catch {
    return true; // unreadable: let the fault's own commands tell
  }
}

export function describeFault(f: FaultRequestInput): string {
  const ns = f.netns ? ` (netns ${f.netns})` : '';
  if (f.kind === 'blackhole') return `blackhole of ${f.peer}${ns} (nft table inet ${blackholeTable(f.peer)}, both directions)`;
  if (f.kind === 'link-down') return `link-down of ${f.dev}${ns}`;
  return `flap of ${f.dev}${ns} (${f.count} x down ${formatDurationMs(f.downMs)}, up ${formatDurationMs(f.upMs)})`;
}

async function preflight(ctx: CliContext, input: FaultInput, runner: TcRunner): Promise<void> {
  const f = input.fault;
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    /* not Linux: the capability check below reports what is missing */
  }
  const missing = missingCaps(status, { netns: f.netns !== undefined });
  if (missing.length) {
    throw new BackhaulError('ERR_PERMISSION', `a local fault needs ${missing.join(' and ')} (run as root)`, {
      missing, hint: 'run it with sudo, or through an agent that runs as root: --agent URL',
    });
  }
  if (f.kind === 'blackhole') await runner.run(['nft', '--version']);
  const dev = f.kind === 'blackhole' ? null : f.dev;
  if (f.netns || dev) {
    const r = await runner.run([...(f.netns ? ['ip', '-n', f.netns] : ['ip']), '-j', 'link', 'show', 'dev', dev ?? 'lo'], { allowFail: true });
    if (/Cannot open network namespace/i.test(r.stderr)) {
      throw new BackhaulError('ERR_NETNS_NOT_FOUND', `no network namespace ${JSON.stringify(f.netns)}`, { netns: f.netns, hint: 'list them with `ip netns list`' });
    }
    if (r.exitCode !== 0) {
      throw new BackhaulError('ERR_INTERFACE_NOT_FOUND', `no interface ${JSON.stringify(dev)}${f.netns ? ` in network namespace ${f.netns}` : ''}`, {
        dev, ...(f.netns ? { netns: f.netns } : {}), hint: `list them with \`ip${f.netns ? ` -n ${f.netns}` : ''} -br link\``,
      });
    }
    if (dev && !linkIsUp(r.stdout)) {
      throw new BackhaulError('ERR_LEASE_CONFLICT', `${dev} is already down: there is nothing to take down, and the restore would bring up a link someone else took down`, {
        dev, hint: `bring it up first if you mean it: ip${f.netns ? ` -n ${f.netns}` : ''} link set dev ${dev} up`,
      });
    }
  }
  if (f.kind === 'blackhole') {
    const t = blackholeTable(f.peer);
    const r = await runner.run([...(f.netns ? ['ip', 'netns', 'exec', f.netns] : []), 'nft', 'list', 'table', 'inet', t], { allowFail: true });
    if (r.exitCode === 0) {
      throw new BackhaulError('ERR_LEASE_CONFLICT', `a blackhole of ${f.peer} is already in place (nft table inet ${t}): another \`backhaul fault\` or an agent holds it, or one was left behind`, {
        table: t, hint: `if nothing holds it: ${f.netns ? `ip netns exec ${f.netns} ` : ''}nft delete table inet ${t}`,
      });
    }
  }
  const client = f.netns ? null : sshClient(ctx.env);
  if (!client) return;
  if (f.kind === 'blackhole') {
    if (cidrContains(f.peer, client)) {
      throw new BackhaulError('ERR_FORBIDDEN', `blackhole ${f.peer} would cut off your SSH session from ${client}`, { peer: client, hint: 'blackhole a narrower prefix that excludes your SSH client' });
    }
  } else if (!input.allowManagementInterface && (await routeDevs(client)).includes(f.dev)) {
    throw new BackhaulError('ERR_FORBIDDEN', `${f.dev} carries your SSH session (the route to ${client}): taking it down would cut you off`, {
      dev: f.dev, peer: client, hint: 'pass --allow-management-interface if you reach this host another way (a console, another interface)',
    });
  }
}

export async function faultLocally(ctx: CliContext, flags: FaultFlags, raw: FaultInput): Promise<number> {
  const input = { ...raw, allowManagementInterface: raw.allowManagementInterface || Boolean(flags.allowManagementInterface) };
  const f = input.fault;
  const runner = new TcRunner();
  await preflight(ctx, input, runner);

  const stateDir = defaultStateDir(ctx.env);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const guard = new RevertGuard({ logFile: join(stateDir, 'fault-guard.log') });
  guard.start();
  const say = (line: string): void => {
    if (!flags.json) ctx.io.out(`${new Date(systemClock.wallMs()).toISOString()}  ${line}\n`);
  };
  const onEvent = (e: ForegroundEvent): void => {
    const of = e.periods > 1 ? ` (period ${e.period}/${e.periods})` : '';
    if (e.type === 'start') say(`started ${describeFault(f)}${of} for ${formatDurationMs(e.forMs)}`);
    else say(`restored${of}${e.early ? ' (interrupted: restored at once)' : ''}`);
  };
  let released = false;
  try {
    const r = await runFaultForeground(f, { run: async (argv) => void (await runner.run(argv)), clock: systemClock, guard, onEvent }, ctx.signal);
    emit(ctx.io, flags, { ...r, request: f }, () => `${f.kind} ended after ${formatDurationMs(r.endMs - r.startMs)}: restored${r.interrupted ? ' (cut short by a signal)' : ''}`);
    return 0;
  } catch (e) {
    if (e instanceof BackhaulError && typeof e.details['restoreBy'] === 'string') {
      guard.release(); // it runs the restore once more as we go
      released = true;
    }
    throw e;
  } finally {
    if (!released) await guard.finish();
  }
}
