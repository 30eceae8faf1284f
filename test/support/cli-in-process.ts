/**
 * The CLI in this process (cli/main.ts with a captured Io): exit code, stdout and stderr. For tests
 * that need no child process (flags, --json shapes, the --agent paths against an in-process agent).
 */
import { main } from '../../cli/main.js';
import type { Io } from '../../cli/output.js';

export interface InProcessRun {
  code: number;
  out: string;
  err: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<InProcessRun> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false };
  const code = await main(['node', 'backhaul', ...args], io, env);
  return { code, out, err };
}
