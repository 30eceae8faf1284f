/**
 * The agent as a real process for the privileged tier: the CLI bundled once with esbuild (so a
 * start costs one node process, not a TypeScript toolchain), started with `backhaul agent`,
 * killed with real signals. Also the byte-level tc snapshot the crash tests compare.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { run } from '../../support/netns.js';
import { reservePort } from '../../support/ports.js';

/** The repository root: the nearest directory upwards holding backhaul's package.json. */
function repoRoot(): string {
  for (let d = import.meta.dirname; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'backhaul') return d;
    if (dirname(d) === d) throw new Error('not inside the backhaul repository');
  }
}
const ROOT = repoRoot();
const OUT_DIR = join(ROOT, 'node_modules', '.cache', 'bh-agent-test');
let bundle: Promise<string> | null = null;

/** Bundle cli/main.ts into one ESM file (once per test process). */
export function agentBundle(): Promise<string> {
  bundle ??= (async () => {
    mkdirSync(OUT_DIR, { recursive: true });
    // Per process: another test process (or run) rewriting a shared entry while esbuild reads it
    // could hand esbuild a truncated file.
    const entry = join(OUT_DIR, `entry-${process.pid}.ts`);
    writeFileSync(entry, "import { main } from '../../../cli/main.js';\nprocess.exitCode = await main(process.argv);\n");
    const outfile = join(OUT_DIR, `backhaul-${process.pid}.mjs`);
    await build({
      entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile, logLevel: 'warning',
      banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" },
    });
    return outfile;
  })();
  return bundle;
}

export interface AgentProcess {
  proc: ChildProcess;
  pid: number;
  url: string;
  guardPid: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code/signal when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartAgentOptions {
  stateDir: string;
  port: number;
  host?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Own process group (so the test can kill the whole group). */
  detached?: boolean;
}

export async function startAgentProcess(o: StartAgentOptions): Promise<AgentProcess> {
  const file = await agentBundle();
  const host = o.host ?? '127.0.0.1';
  const args = [file, 'agent', '--json', '--listen', `${host}:${o.port}`, '--state-dir', o.stateDir, ...(o.extraArgs ?? [])];
  const [cmd, ...argv] = o.netns ? ['ip', 'netns', 'exec', o.netns, process.execPath, ...args] : [process.execPath, ...args];
  const proc = spawn(cmd as string, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: o.detached ?? false, env: { ...process.env, ...o.env } });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += String(d)));
  proc.stderr?.on('data', (d: Buffer) => (err += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const started = await new Promise<{ listening: string; guardPid: number; pid: number }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`agent did not start within 30 s\nstdout: ${out}\nstderr: ${err}`)), 30_000);
    const check = (): void => {
      const end = out.indexOf('}\n');
      if (end >= 0) {
        clearTimeout(timer);
        res(JSON.parse(out.slice(0, end + 1)) as { listening: string; guardPid: number; pid: number });
      }
    };
    proc.stdout?.on('data', check);
    void exited.then((e) => {
      clearTimeout(timer);
      rej(new Error(`agent exited (${e.code ?? e.signal}) before listening\nstdout: ${out}\nstderr: ${err}`));
    });
  });
  return { proc, pid: started.pid, url: started.listening, guardPid: started.guardPid, stdout: () => out, stderr: () => err, exited };
}

/**
 * When the guard `pid` logged "done" (ms since the epoch, the guard's own clock reading, the
 * same as the test's Date.now()), from the guard log: the time its last revert step finished,
 * without the lateness of a test polling the interface with tc/ip processes on a loaded host.
 */
export function guardDoneAtMs(logFile: string, pid: number): number {
  const line = readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes(`guard[${pid}]: done`));
  if (!line) throw new Error(`guard ${pid} logged no "done"`);
  return Date.parse(line.slice(0, line.indexOf(' ')));
}

/** Whether a pid is alive (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Everything tc and ip say about an interface and the namespace's links, as one string: qdiscs,
 * classes, filters (egress and ingress hooks) in `tc -j` form, and the link names (an IFB left
 * behind shows here). Two snapshots are equal iff the interface is byte-identical.
 */
export async function tcSnapshot(netns: string, dev: string): Promise<string> {
  const tc = async (args: string[]): Promise<string> => (await run(['tc', '-n', netns, '-j', ...args], { allowFail: true })).stdout.trim();
  const links = JSON.parse((await run(['ip', '-n', netns, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
  return JSON.stringify({
    qdisc: await tc(['qdisc', 'show', 'dev', dev]),
    // kernel-created default children (a tbf's bfifo) show only here: noop in their place would not
    invisible: await tc(['qdisc', 'show', 'dev', dev, 'invisible']),
    class: await tc(['class', 'show', 'dev', dev]),
    filter: await tc(['filter', 'show', 'dev', dev]),
    ingress: await tc(['filter', 'show', 'dev', dev, 'ingress']),
    links: links.map((l) => l.ifname).sort(),
  });
}

/**
 * A port for one agent instance (distinct per call): reserved outside the ephemeral range (see
 * test/support/ports.ts), so no outgoing connection or bind(0) of this or another process gets it
 * between this call and the agent's listen.
 */
export function agentPort(): Promise<number> {
  return reservePort();
}
