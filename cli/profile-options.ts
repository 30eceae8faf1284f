/**
 * The `--profiles DIR` option (repeatable) and how commands turn it into library options.
 *
 * It is accepted before the subcommand (a global option on the root program, cli/main.ts, which
 * uses positional options so the root does not swallow a subcommand's own flags) and after it on
 * every command that loads profiles (`addProfilesOption`). `profileLibraryOptions` collects the
 * directories from the command and all its ancestors, root first:
 *
 *   backhaul --profiles A profiles list --profiles B     -> dirs [A, B], then $BACKHAUL_PROFILES, bundled
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

/** Library options from every `--profiles` on the command line and the environment of the context. */
export function profileLibraryOptions(command: Command, ctx: CliContext): LibraryOptions {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.unshift(c);
  const dirs = chain.flatMap((c) => (c.opts() as { profiles?: string[] }).profiles ?? []);
  return { dirs, env: ctx.env };
}
