/**
 * `backhaul clear --dev IF [--netns NS]`: remove everything backhaul put on an interface (its htb
 * tree, the ingress redirect and IFB, offload changes) and nothing else. Clearing an interface
 * that has nothing of ours succeeds.
 */
import type { Command } from 'commander';
import { isBackhaulError } from '../../core/errors.js';
import type { Applied } from '../../agent/backend.js';
import { NetemBackend } from '../../agent/netem/netem-backend.js';
import { defaultStateDir } from '../../agent/netem/target-record.js';
import { runAction, type CliContext } from '../context.js';
import { emit } from '../output.js';
import { addDevFlags, targetFromFlags } from './netem-common.js';
import { addAgentFlags, clearViaAgent, type RemoteFlags } from './agent-remote.js';
import { usageError } from '../output.js';

interface ClearFlags extends RemoteFlags {
  all?: boolean;
  dev?: string;
  netns?: string;
  json?: boolean;
}

export function registerClear(program: Command, ctx: CliContext): void {
  const cmd = program.command('clear').description('remove backhaul\'s impairment from an interface (only what backhaul added)');
  addAgentFlags(addDevFlags(cmd, false))
    .option('--all', 'with --agent: clear every impairment the agent holds')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  backhaul clear --dev eth1\n  backhaul clear --dev r1 --netns router\n  backhaul clear --dev eth1 --agent https://site17:8470\n  backhaul clear --all --agent https://site17:8470\n')
    .action(async (flags: ClearFlags) => {
      await runAction(ctx, flags, async () => {
        if (flags.agent) return clearViaAgent(ctx, flags, flags.dev, flags.netns);
        if (flags.all) throw usageError('--all needs --agent URL (locally, clear one --dev at a time)');
        if (!flags.dev) throw usageError('--dev is required');
        const target = targetFromFlags({ ...flags, direction: 'both' });
        const backend = new NetemBackend({ stateDir: defaultStateDir(ctx.env) });
        let before: Applied | null = null;
        let gone = false;
        try {
          before = await backend.status(target);
        } catch (e) {
          if (!isBackhaulError(e) || e.code !== 'ERR_INTERFACE_NOT_FOUND') throw e;
          gone = true; // revert still removes the IFB we left for it
        }
        await backend.revert(target, ctx.signal);
        const where = `${target.dev}${target.netns ? ` (netns ${target.netns})` : ''}`;
        emit(ctx.io, flags, { dev: target.dev, ...(target.netns ? { netns: target.netns } : {}), cleared: before !== null, ...(gone ? { interfaceGone: true } : {}) },
          () => gone ? `${where} does not exist; removed what backhaul had left for it (its IFB), if anything`
            : before ? `cleared ${where}${before.profileName ? ` (was ${before.profileName})` : ''}` : `nothing of backhaul's on ${where}`);
      });
    });
}
