/**
 * The ONLY place that spawns tc, ip and ethtool. No shell, ever: argv arrays through execa.
 *
 * - Every command has a timeout (default 10 s); a timeout is ERR_COMMAND_TIMEOUT.
 * - A failure is a BackhaulError carrying { argv, exitCode, stderr } (and the batch body):
 *   ERR_TC_FAILED by default; ERR_PERMISSION, ERR_INTERFACE_NOT_FOUND, ERR_NETNS_NOT_FOUND,
 *   ERR_CAPABILITY_MISSING where the cause is clear (for the user's sake only: planning never
 *   depends on error text, it reads state with `tc -j`).
 * - `execute(plan)` runs consecutive tc steps as ONE `tc [-n NS] -batch -` (one process per apply
 *   or phase switch: ~6 ms here, ~100 ms under emulation). tc's batch is not transactional: on
 *   failure the commands before the failing line have taken effect. The backend therefore reverts
 *   after a failed apply.
 * - Cancellation: an aborted signal stops before the next step (a running tc is not killed
 *   mid-batch, so the kernel state stays consistent with what the batch reports).
 */
import { execa } from 'execa';
import { BackhaulError, type ErrorCode } from '../../core/errors.js';
import type { NetemTarget } from '../backend.js';
import { HTB_HANDLE, INGRESS_PARENT } from './handles.js';
import { ingressQdisc, ourHtb, type DevTcState, type LiveState } from './live-state.js';
import { ifbNameFor } from './names.js';
import { batchBody, stepArgv, type Plan, type Step } from './plan.js';
import { parseClasses, parseFilters, parseLinks, parseQdiscs } from './tc-json.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
  /** the program itself was not found (ENOENT) */
  notFound: boolean;
}

export type Exec = (file: string, args: string[], opts: { input?: string; timeoutMs: number }) => Promise<ExecResult>;

/** The real exec: execa without a shell, never rejecting (we classify the result ourselves). */
export const execaExec: Exec = async (file, args, opts) => {
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs,
    stripFinalNewline: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    env: { LC_ALL: 'C' },
  });
  const code = (r as { code?: string }).code;
  return {
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    exitCode: typeof r.exitCode === 'number' ? r.exitCode : -1,
    timedOut: Boolean(r.timedOut),
    notFound: code === 'ENOENT',
  };
};

export interface RunOptions {
  input?: string;
  /** resolve with the result instead of throwing on a non-zero exit */
  allowFail?: boolean;
  timeoutMs?: number;
}

const TOOL_PACKAGE: Record<string, string> = { tc: 'iproute2', ip: 'iproute2', ethtool: 'ethtool', nft: 'nftables' };

/** Map a failed command to the catalogued code that tells the user what to do. */
export function classifyFailure(stderr: string): ErrorCode {
  if (/Operation not permitted|Permission denied/i.test(stderr)) return 'ERR_PERMISSION';
  if (/Cannot open network namespace/i.test(stderr)) return 'ERR_NETNS_NOT_FOUND';
  if (/Cannot find device/i.test(stderr)) return 'ERR_INTERFACE_NOT_FOUND';
  if (/Specified qdisc kind is unknown|Specified qdisc not found|Unknown qdisc/i.test(stderr)) return 'ERR_CAPABILITY_MISSING';
  return 'ERR_TC_FAILED';
}

export class TcRunner {
  private readonly exec: Exec;
  private readonly timeoutMs: number;

  constructor(opts: { exec?: Exec; timeoutMs?: number } = {}) {
    this.exec = opts.exec ?? execaExec;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Run one command. Throws a BackhaulError (see the file comment) unless allowFail. */
  async run(argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
    const [file, ...args] = argv;
    if (!file) throw new BackhaulError('ERR_INTERNAL', 'empty argv');
    const r = await this.exec(file, args, { timeoutMs: opts.timeoutMs ?? this.timeoutMs, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    if (r.notFound) {
      const pkg = TOOL_PACKAGE[file] ?? file;
      throw new BackhaulError('ERR_CAPABILITY_MISSING', `${file} is not installed`, { argv, hint: `install it (apt-get install ${pkg} / dnf install ${pkg})` });
    }
    if (r.timedOut) {
      throw new BackhaulError('ERR_COMMAND_TIMEOUT', `${argv.join(' ')} did not finish within ${opts.timeoutMs ?? this.timeoutMs} ms`, {
        argv, ...(opts.input !== undefined ? { batch: opts.input } : {}),
      });
    }
    if (r.exitCode !== 0 && !opts.allowFail) {
      const code = classifyFailure(r.stderr);
      const firstLine = r.stderr.trim().split('\n').slice(0, 3).join('; ');
      const what = code === 'ERR_INTERFACE_NOT_FOUND' ? 'no such interface' : code === 'ERR_NETNS_NOT_FOUND' ? 'no such network namespace' : `${file} failed (exit ${r.exitCode})`;
      throw new BackhaulError(code, `${what}: ${firstLine || 'no message'}`, {
        argv, exitCode: r.exitCode, stderr: r.stderr, ...(opts.input !== undefined ? { batch: opts.input } : {}),
        ...(code === 'ERR_PERMISSION' ? { hint: 'run as root, or grant CAP_NET_ADMIN (e.g. docker run --cap-add NET_ADMIN)' } : {}),
        ...(code === 'ERR_CAPABILITY_MISSING'
          ? { hint: 'a qdisc kind this plan uses is missing from the kernel: modprobe sch_netem / sch_htb (RHEL/Fedora: kernel-modules-extra; Ubuntu: linux-modules-extra-$(uname -r)); or impair in user space instead: `backhaul relay --listen ADDR:PORT --upstream HOST:PORT --profile NAME` (an agent: a relay target)' }
          : {}),
      });
    }
    return r;
  }

  /**
   * Execute a plan in order: each run of consecutive tc steps as one `tc -batch -`, other steps
   * one by one. Stops at the first failure (throws); steps before it have taken effect.
   */
  async execute(plan: Plan, signal?: AbortSignal): Promise<void> {
    let i = 0;
    while (i < plan.steps.length) {
      signal?.throwIfAborted();
      const step = plan.steps[i] as Step;
      if (step.tool === 'tc') {
        const run: Step[] = [];
        while (i < plan.steps.length && (plan.steps[i] as Step).tool === 'tc') run.push(plan.steps[i++] as Step);
        if (run.length === 1) await this.run(stepArgv(run[0] as Step, plan.netns));
        else await this.run(['tc', ...(plan.netns ? ['-n', plan.netns] : []), '-batch', '-'], { input: batchBody(run) });
      } else {
        await this.run(stepArgv(step, plan.netns));
        i++;
      }
    }
  }

  private tc(netns: string | undefined, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
    return this.run(['tc', ...(netns ? ['-n', netns] : []), ...args], opts);
  }

  /** Our tree on one device: qdiscs, and the classes and filters of our htb if it is there. */
  async readDev(dev: string, netns?: string): Promise<DevTcState> {
    const qdiscs = parseQdiscs((await this.tc(netns, ['-j', 'qdisc', 'show', 'dev', dev])).stdout);
    // A tbf root: its exact limit and buffer ticks (only the raw dump prints them) for an exact
    // revert, and whether it has any child (its default bfifo is invisible without `invisible`).
    const root = qdiscs.find((q) => q.root);
    let tbfRaw: Pick<DevTcState, 'tbfRaw' | 'tbfNoopChild'> = {};
    if (root?.kind === 'tbf') {
      const all = parseQdiscs((await this.tc(netns, ['-raw', '-d', '-j', 'qdisc', 'show', 'dev', dev, 'invisible'])).stdout);
      const rawRoot = all.find((q) => q.root && q.kind === 'tbf');
      const childClass = `${root.handle.replace(/:$/, '')}:1`;
      if (rawRoot) tbfRaw = { tbfRaw: rawRoot.options, tbfNoopChild: !all.some((q) => q.parent === childClass) };
    }
    if (!ourHtb(qdiscs)) return { qdiscs, classes: [], filters: [], ...tbfRaw };
    const classes = parseClasses((await this.tc(netns, ['-j', 'class', 'show', 'dev', dev, 'parent', HTB_HANDLE])).stdout);
    const filters = parseFilters((await this.tc(netns, ['-j', 'filter', 'show', 'dev', dev, 'parent', HTB_HANDLE])).stdout);
    return { qdiscs, classes, filters, ...tbfRaw };
  }

  /** Read everything the planner needs about a target. Throws ERR_INTERFACE_NOT_FOUND etc. */
  async readLiveState(target: Pick<NetemTarget, 'dev' | 'netns'>): Promise<LiveState> {
    const dev = await this.readDev(target.dev, target.netns);
    const ingressFilters = ingressQdisc(dev.qdiscs)
      ? parseFilters((await this.tc(target.netns, ['-j', 'filter', 'show', 'dev', target.dev, 'parent', INGRESS_PARENT])).stdout)
      : [];
    const ifbName = ifbNameFor(target.dev, target.netns);
    const link = await this.run(['ip', ...(target.netns ? ['-n', target.netns] : []), '-j', 'link', 'show', 'dev', ifbName], { allowFail: true });
    let ifb: LiveState['ifb'] = null;
    if (link.exitCode === 0) {
      const entry = parseLinks(link.stdout)[0];
      ifb = { name: ifbName, ...(entry?.alias ? { alias: entry.alias } : {}), ...(await this.readDev(ifbName, target.netns)) };
    } else if (!/does not exist|Cannot find device/i.test(link.stderr)) {
      // Anything but "no such device" (a missing namespace, no permission) is a real failure.
      throw new BackhaulError(classifyFailure(link.stderr), `ip failed (exit ${link.exitCode}): ${link.stderr.trim()}`, {
        argv: ['ip', '-j', 'link', 'show', 'dev', ifbName], exitCode: link.exitCode, stderr: link.stderr,
      });
    }
    return { dev: { ...dev, ingressFilters }, ifb };
  }
}
