/**
 * The global `--profiles DIR` option (repeatable) and how commands turn it into library options.
 * Defined once on the root program (cli/main.ts); any command that loads a profile by name
 * (`profiles ...`, `apply`, campaigns) calls `profileLibraryOptions(command, ctx)`.
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

/** Library options from the global `--profiles` flags and the environment of the CLI context. */
export function profileLibraryOptions(command: Command, ctx: CliContext): LibraryOptions {
  const dirs = (command.optsWithGlobals() as { profiles?: string[] }).profiles ?? [];
  return { dirs, env: ctx.env };
}
