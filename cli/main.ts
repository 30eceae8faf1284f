/**
 * The composition root of the CLI: builds the commander program, wires every command, and maps
 * errors to exit codes. Commands are thin: parse -> call the library -> format.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { processIo, type Io } from './output.js';
import type { CliContext, RegisterCommand } from './context.js';
import { registerProfiles } from './commands/profiles.js';
import { collect, PROFILES_OPTION_FLAGS, PROFILES_OPTION_HELP, withProfileDirs } from './profile-options.js';
import { registerProbe } from './commands/probe.js';
import { registerReflect } from './commands/reflect.js';
import { registerAgent } from './commands/agent.js';
import { registerApply } from './commands/apply.js';
import { registerClear } from './commands/clear.js';
import { registerCampaign } from './commands/campaign.js';
import { registerVerify } from './commands/verify.js';
import { registerRelay } from './commands/relay.js';
import { registerStatus } from './commands/status.js';
import { registerFault } from './commands/fault.js';

const COMMANDS: RegisterCommand[] = [
  registerProfiles,
  registerProbe,
  registerReflect,
  registerApply,
  registerClear,
  registerStatus,
  registerFault,
  registerCampaign,
  registerVerify,
  registerRelay,
  registerAgent,
];

const EXIT_CODES_HELP = `
Exit codes:
  0   success
  1   what was checked does not hold (campaign assertion failed, verify found a deviation)
  2   bad input (flag, profile, campaign file, request)
  3   the environment lacks something (netem, root/CAP_NET_ADMIN, a tool)
  4   a system command failed (tc, ip, nft)
  5   conflict (target owned by another lease or a foreign qdisc)
  6   an agent or target could not be reached or refused the token
  70  internal error
`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('backhaul')
    .description('Run pre-production edge sites under production WAN conditions, and measure what your software experiences.')
    .version(version())
    // Positional: root options go before the subcommand, so `apply --profiles D` stays apply's own flag.
    .enablePositionalOptions()
    .option(PROFILES_OPTION_FLAGS, PROFILES_OPTION_HELP, collect)
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .exitOverride();
  // `backhaul --profiles DIR <command>`: every command hands ctx.env to the profile library.
  program.hook('preAction', () => {
    ctx.env = withProfileDirs(ctx.env, (program.opts() as { profiles?: string[] }).profiles ?? []);
  });
  for (const register of COMMANDS) register(program, ctx);
  return program;
}

/** Run the CLI with `argv` (as process.argv); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const controller = new AbortController();
  // `on`, not `once`: our listener must stay registered while it runs. execa's child cleanup
  // (signal-exit) re-raises a signal that it believes nobody else handles, which would kill us in
  // the middle of clearing an interface. A second signal only says that cleanup is under way.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      io.err(`backhaul: ${signal} again: still cleaning up (SIGKILL skips the cleanup)\n`);
      return;
    }
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx: CliContext = { io, env, exitCode: 0, signal: controller.signal };
  try {
    await buildProgram(ctx).parseAsync(argv);
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors exit 2 (commander already printed the message).
      return e.exitCode === 0 ? 0 : 2;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
