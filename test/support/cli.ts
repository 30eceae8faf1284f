/**
 * The real CLI as a child process for integration tests, compiled from the current sources first
 * (tsc, ~1-2 s, once per test process) into a private directory `.cache/cli-<pid>/` (same layout
 * as dist/, so module-relative paths resolve the same way). Private, because test files run in
 * parallel workers and one must not rewrite dist/ while another's children load it. Children are
 * killed by `stop()` (SIGTERM, then SIGKILL after 5 s); `stop()` is idempotent.
 */
import { readdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';

export const ROOT = resolve(import.meta.dirname, '../..');

/** Where this process's build lives (like dist/: `<dir>/cli/main.js`, `<dir>/dashboards/...`). */
export const CLI_BUILD_DIR = join(ROOT, '.cache', `cli-${process.pid}`);
const LAUNCHER = join(CLI_BUILD_DIR, 'launch.mjs');

let built: Promise<void> | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes builds left by test processes that no longer run (a killed worker skips its cleanup). */
function removeStaleBuilds(): void {
  let names: string[] = [];
  try {
    names = readdirSync(join(ROOT, '.cache'));
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^cli-(\d+)$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(ROOT, '.cache', name), { recursive: true, force: true });
  }
}

/** Removes this process's build (call from afterAll of every file that called buildCli()). */
export async function removeCliBuild(): Promise<void> {
  built = undefined;
  await rm(CLI_BUILD_DIR, { recursive: true, force: true });
}

/** Compiles the project into CLI_BUILD_DIR once per process. */
export function buildCli(): Promise<void> {
  built ??= (async () => {
    removeStaleBuilds();
    const r = await execa('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', CLI_BUILD_DIR],
      { cwd: ROOT, reject: false, timeout: 180_000 });
    if (r.exitCode !== 0) throw new Error(`tsc failed:\n${String(r.stdout)}\n${String(r.stderr)}`);
    await writeFile(LAUNCHER,
      "const { main } = await import('./cli/main.js');\nprocess.exitCode = await main(process.argv);\n");
  })();
  return built;
}

export interface CliProcess {
  argv: string[];
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  exited(): boolean;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `backhaul ARGS...` (call buildCli() first). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  let out = '';
  let err = '';
  let done = false;
  const child: ResultPromise = execa('node', [LAUNCHER, ...args], {
    cwd: ROOT, reject: false, buffer: false, stdin: 'ignore', env: { ...process.env, ...env },
  });
  child.stdout?.on('data', (d: Buffer) => { out = (out + d.toString()).slice(-100_000); });
  child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-100_000); });
  const finished = child.then(() => { done = true; });
  let stopping: Promise<void> | undefined;
  return {
    argv: args,
    stdout: () => out,
    stderr: () => err,
    exited: () => done,
    stop(signal = 'SIGTERM') {
      stopping ??= (async () => {
        if (!done) {
          child.kill(signal);
          const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await finished;
          clearTimeout(t);
        }
      })();
      return stopping;
    },
  };
}

// Ports to hand to a child process: test/support/ports.ts (reservePort), never bind(0)-then-close.

/** Polls `url` until it answers 200 with a body, or throws after `timeoutMs` with `describe()`. */
export async function waitForHttp(url: string, timeoutMs: number, describe: () => string): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) return await r.text();
    } catch { /* not up yet */ }
    if (Date.now() > end) throw new Error(`${url} not serving after ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until a child's stderr (or stdout) matches `pattern`; throws after `timeoutMs`. */
export async function waitForOutput(proc: CliProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pattern.test(proc.stderr()) && !pattern.test(proc.stdout())) {
    if (proc.exited() || Date.now() > end) {
      throw new Error(`${proc.argv.join(' ')}: no ${String(pattern)} within ${timeoutMs} ms (exited: ${proc.exited()})\n${proc.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
