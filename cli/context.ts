/**
 * What every CLI command receives from the composition root (cli/main.ts). Commands register
 * themselves on the commander program and run their action through `runAction`, which turns
 * thrown errors into the catalogued exit codes.
 */
import type { Command } from 'commander';
import { reportError, type Io, type OutputOptions } from './output.js';

export interface CliContext {
  io: Io;
  env: NodeJS.ProcessEnv;
  /** Exit code of the command that ran (set by runAction). */
  exitCode: number;
  /** Abort signal fired on SIGINT/SIGTERM: long-running commands stop and clean up. */
  signal: AbortSignal;
}

export type RegisterCommand = (program: Command, ctx: CliContext) => void;

/**
 * Run a command body: its return value (or 0) becomes the exit code; a thrown error is reported
 * (as JSON with --json) and mapped to its exit code.
 */
export async function runAction(
  ctx: CliContext,
  opts: OutputOptions,
  body: () => Promise<number | void>,
): Promise<void> {
  try {
    const code = await body();
    ctx.exitCode = typeof code === 'number' ? code : 0;
  } catch (e) {
    ctx.exitCode = reportError(ctx.io, opts, e);
  }
}
