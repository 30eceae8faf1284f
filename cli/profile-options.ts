/**
 * The `--profiles DIR` option (repeatable) and how commands turn it into library options.
 *
 * Before the subcommand it is a global option of the root program (cli/main.ts, which uses
 * positional options so the root does not swallow a subcommand's own flags); a preAction hook
 * prepends those dirs to the context's BACKHAUL_PROFILES (`withProfileDirs`), so every command that
 * hands `ctx.env` to the profile library honours it. After the subcommand it is the command's own
 * option (`addProfilesOption`); `profileLibraryOptions` collects those from the command and its
 * parents (below the root):
 *
 *   backhaul --profiles A profiles list --profiles B  -> B, then A, then $BACKHAUL_PROFILES, then bundled
 */
import type { Command } from 'commander';
import type { LibraryOptions } from '../agent/profile-library.js';
import type { CliContext } from './context.js';

export const PROFILES_OPTION_FLAGS = '--profiles <dir>';
export const PROFILES_OPTION_HELP =
  'also look for profiles in DIR (repeatable; searched in order before $BACKHAUL_PROFILES and the bundled profiles)';

/** commander option parser that collects repeated values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Add `--profiles <dir>` (repeatable) to a command. */
export function addProfilesOption(command: Command): Command {
  return command.option(PROFILES_OPTION_FLAGS, PROFILES_OPTION_HELP, collect);
}

/** Library options from the `--profiles` given after the subcommand and the context's environment. */
export function profileLibraryOptions(command: Command, ctx: CliContext): LibraryOptions {
  const chain: Command[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) chain.unshift(c);
  const dirs = chain.flatMap((c) => (c.opts() as { profiles?: string[] }).profiles ?? []);
  return { dirs, env: ctx.env };
}

/** A copy of `env` with `dirs` searched before the BACKHAUL_PROFILES it already had. */
export function withProfileDirs(env: NodeJS.ProcessEnv, dirs: string[]): NodeJS.ProcessEnv {
  if (dirs.length === 0) return env;
  const existing = env['BACKHAUL_PROFILES'];
  return { ...env, BACKHAUL_PROFILES: [...dirs, ...(existing ? [existing] : [])].join(':') };
}
