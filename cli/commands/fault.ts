/**
 * `backhaul fault link-down|flap|blackhole|list|stop`: a bounded network fault, run in the
 * foreground on this host (root), or through an agent (--agent URL). Flags are validated once,
 * here, with the agent API's own validator (same names, CIDRs and durations), before anything is
 * touched; the heavy modules (execa, the guard, the client) load only when a command runs.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { runAction } from '../context.js';
import { usageError, type OutputOptions } from '../output.js';
import type { RemoteFlags } from './agent-remote.js';
import { BackhaulError, isBackhaulError } from '../../core/errors.js';
import type { FaultInput } from '../../agent/api/validate-faults.js';

export interface FaultFlags extends RemoteFlags, OutputOptions {
  dev?: string;
  netns?: string;
  for?: string;
  down?: string;
  up?: string;
  count?: string;
}

const COMMON_HELP = `
What happens to traffic:
  link-down  the interface is set down (ip link set dev IF down): everything through it stops,
             both ways; the kernel sees the carrier go and its routes through it stop, so a host
             with a backup route can fail over at once. Restored with ip link set dev IF up.
  flap       COUNT times: down for --down, then up for --up (the last period ends up).
  blackhole  an nftables table of its own (inet backhaul_fault_<peer>) drops every packet to AND
             from PEER_CIDR (input, output and forward hooks), while the link stays up: no
             failover happens, connections just stop (a "soft" failure). Restored by deleting
             the table.

Locally (no --agent) the fault runs in the foreground and needs root (CAP_NET_ADMIN). It prints
when it started and when it was restored. Ctrl-C or SIGTERM restores at once; an error restores
too; a revert guard process holds the restore, so even a SIGKILLed backhaul gets its link back up
and its table deleted. If a restore ever fails, the exact command to run by hand is printed and
the exit code is 4.

Management path: when you are logged in over SSH, a link fault on the interface that routes to
your SSH client is refused (pass --allow-management-interface if you reach this host another
way), and a blackhole covering your SSH client's address is always refused. Through an agent the
agent applies the same rules to the controller's address. A fault inside --netns is never
checked (lab namespaces are not your way in).
`;

const EXIT_HELP = `
Exit codes: 0 ended and restored (also after Ctrl-C); 2 a bad flag, an unknown interface or
namespace; 3 not root / CAP_NET_ADMIN, nft missing; 4 a command failed (if it was the restore, the
command to run by hand is printed); 5 not ours to fault (the link is already down, a blackhole
table for that prefix is in place); 6 the agent is unreachable or refused, or the management path.
`;

const EXAMPLES = {
  'link-down': `
Examples:
  sudo backhaul fault link-down --dev eth1 --for 5s              # eth1 down for 5 s, then up
  sudo backhaul fault link-down --dev veth0 --netns site-a --for 500ms --json
  backhaul fault link-down --dev eth1 --for 30s --agent https://site17:8470   # BACKHAUL_TOKEN=...`,
  flap: `
Examples:
  sudo backhaul fault flap --dev eth1 --down 1s --up 2s --count 3   # down 1 s, up 2 s, x3 (7 s)
  backhaul fault flap --dev wan0 --down 300ms --up 5s --count 10 --agent https://site17:8470`,
  blackhole: `
Examples:
  sudo backhaul fault blackhole 10.9.0.0/24 --for 3s             # nothing to or from 10.9.0.0/24 for 3 s
  sudo backhaul fault blackhole fd00:9::/64 --for 10s --netns store
  backhaul fault blackhole 192.0.2.10/32 --for 1m --agent https://site17:8470`,
} as const;

/** The request body (as the agent API takes it) from the flags. Throws ERR_USAGE for what is missing. */
export function faultBody(kind: 'link-down' | 'flap' | 'blackhole', flags: FaultFlags, peer?: string): Record<string, unknown> {
  const need = (name: string, v: string | undefined): string => {
    if (v === undefined) throw usageError(`--${name} is required for ${kind}`);
    return v;
  };
  const ns = flags.netns !== undefined ? { netns: flags.netns } : {};
  if (kind === 'blackhole') return { kind, peer: peer ?? '', ...ns, durationMs: need('for', flags.for) };
  const dev = need('dev', flags.dev);
  if (kind === 'link-down') return { kind, dev, ...ns, durationMs: need('for', flags.for) };
  const countText = need('count', flags.count);
  if (!/^\d+$/.test(countText)) throw usageError(`--count must be a whole number of periods (got ${JSON.stringify(countText)})`);
  return { kind, dev, ...ns, downMs: need('down', flags.down), upMs: need('up', flags.up), count: Number(countText) };
}

const FLAG_OF: Record<string, string> = { durationMs: '--for', downMs: '--down', upMs: '--up', dev: '--dev', netns: '--netns', count: '--count', peer: 'PEER_CIDR' };
const flagNames = (text: string): string => text.replace(/\b(durationMs|downMs|upMs|dev|netns|count|peer)\b(?=:)/g, (m) => FLAG_OF[m] ?? m).replace(/^invalid fault request: /, '');

/**
 * Validate the flags with the agent's own validator: ERR_BAD_REQUEST (exit 2) naming the flag.
 * Durations need a unit here ('5' would be 5 ms in the API, which nobody means on a command line).
 */
export async function validateFaultFlags(kind: 'link-down' | 'flap' | 'blackhole', flags: FaultFlags, peer?: string): Promise<FaultInput> {
  for (const [name, v] of [['for', flags.for], ['down', flags.down], ['up', flags.up]] as const) {
    if (v !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(v)) throw usageError(`--${name} needs a unit (got ${JSON.stringify(v)}): e.g. 500ms, 5s, 2m`);
  }
  const { validateFault } = await import('../../agent/api/validate-faults.js');
  try {
    return validateFault(faultBody(kind, flags, peer));
  } catch (e) {
    if (!isBackhaulError(e) || e.code !== 'ERR_BAD_REQUEST') throw e;
    const problems = Array.isArray(e.details['problems']) ? (e.details['problems'] as string[]).map(flagNames) : undefined;
    throw new BackhaulError('ERR_BAD_REQUEST', flagNames(e.message), { ...(problems && problems.length > 1 ? { problems } : {}) });
  }
}

/** --agent and friends (as apply/clear/status; the token comes from $BACKHAUL_TOKEN). */
function addAgentFlags(cmd: Command): Command {
  return cmd
    .option('--agent <url>', 'act through a backhaul agent (http(s)://host:8470) instead of on this host; token from $BACKHAUL_TOKEN')
    .option('--agent-fingerprint <sha256>', 'pin the agent\'s TLS certificate (as printed by `backhaul agent --tls-self-signed`)')
    .option('--controller <name>', 'with --agent: who asks (default: the token\'s name)');
}

export function registerFault(program: Command, ctx: CliContext): void {
  const fault = program
    .command('fault')
    .description('take a link down, flap it, or blackhole a peer (both directions) for a bounded time; restored at the end, on Ctrl-C and on errors')
    .addHelpText('after', `${COMMON_HELP}${EXAMPLES['link-down']}${EXAMPLES.flap.replace('\nExamples:', '')}${EXAMPLES.blackhole.replace('\nExamples:', '')}
  backhaul fault list --agent https://site17:8470
  backhaul fault stop f-lx2k3-1 --agent https://site17:8470
`);

  const run = async (kind: 'link-down' | 'flap' | 'blackhole', flags: FaultFlags, peer?: string): Promise<void> => {
    await runAction(ctx, flags, async () => {
      const input = await validateFaultFlags(kind, flags, peer);
      if (flags.agent) {
        const { faultViaAgent } = await import('./fault-remote.js');
        return faultViaAgent(ctx, flags, input);
      }
      const { faultLocally } = await import('./fault-local.js');
      return faultLocally(ctx, flags, input);
    });
  };

  // Kind-specific options first (they are what --help readers look for), then the shared ones.
  const common = (cmd: Command, kind: keyof typeof EXAMPLES): Command =>
    addAgentFlags(cmd.option('--netns <name>', 'the network namespace to act in (an `ip netns` name)'))
      .option('--allow-management-interface', 'do not refuse a link fault on the interface that routes to your SSH client / the controller')
      .option('--json', 'print one JSON result at the end (kind, startMs, endMs, restored)')
      .addHelpText('after', `${COMMON_HELP}${EXIT_HELP}${EXAMPLES[kind]}\n`);

  common(fault.command('link-down').description('set an interface down for a duration, then up again')
    .requiredOption('--dev <ifname>', 'the interface to take down')
    .requiredOption('--for <duration>', 'how long it stays down (e.g. 500ms, 5s, 2m)'), 'link-down')
    .action((flags: FaultFlags) => run('link-down', flags));

  common(fault.command('flap').description('take an interface down and up COUNT times')
    .requiredOption('--dev <ifname>', 'the interface to flap')
    .requiredOption('--down <duration>', 'how long each down period lasts')
    .requiredOption('--up <duration>', 'how long it stays up between down periods')
    .requiredOption('--count <n>', 'how many down periods'), 'flap')
    .action((flags: FaultFlags) => run('flap', flags));

  common(fault.command('blackhole').argument('<peer-cidr>', 'the peer address or CIDR (IPv4 or IPv6)').description('drop every packet to and from a peer CIDR for a duration (nftables; the link stays up)')
    .requiredOption('--for <duration>', 'how long the peer is blackholed'), 'blackhole')
    .action((peer: string, flags: FaultFlags) => run('blackhole', flags, peer));

  addAgentFlags(fault.command('list').description('the faults an agent runs or recently ran'))
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  backhaul fault list --agent https://site17:8470\n')
    .action(async (flags: FaultFlags) => {
      await runAction(ctx, flags, async () => {
        if (!flags.agent) throw usageError('fault list needs --agent URL (a local fault lives only as long as its `backhaul fault` process)');
        const { listFaultsViaAgent } = await import('./fault-remote.js');
        return listFaultsViaAgent(ctx, flags);
      });
    });

  addAgentFlags(fault.command('stop').argument('<id>', 'the fault id (from `fault list`)').description('end a fault on an agent now (restored at once; stopping an ended fault is a no-op)'))
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  backhaul fault stop f-lx2k3-1 --agent https://site17:8470\n')
    .action(async (id: string, flags: FaultFlags) => {
      await runAction(ctx, flags, async () => {
        if (!flags.agent) throw usageError('fault stop needs --agent URL (stop a local fault with Ctrl-C in its terminal, or SIGTERM to its process)');
        const { stopFaultViaAgent } = await import('./fault-remote.js');
        return stopFaultViaAgent(ctx, flags, id);
      });
    });
}
