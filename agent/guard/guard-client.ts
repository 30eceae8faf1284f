/**
 * The agent's side of the revert guard (see guard-source.ts for the guard itself).
 *
 * `setPlan(plan)` replaces the guard's plan and resolves when the guard acknowledged it (or rejects
 * after `ackTimeoutMs`); if the guard is not running at that moment, a replacement is started first,
 * so an acknowledgement always comes from a live guard. If the guard dies while the agent lives, it
 * is restarted at once (in the same event-loop turn as its exit is seen) with the current plan
 * (`onRestart` is told). The remaining window (guard dead, replacement not yet holding the plan:
 * the exit notification plus one process spawn and one ack, tens of ms) is documented in
 * docs/agent.md; the journal covers it. `finish()` tells it the agent reverted everything itself, so it exits
 * without acting. The guard runs in its own session (detached) so that signals to the agent's process
 * group do not reach it, and its stderr goes to `logFile`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { GUARD_MARKER, GUARD_SOURCE } from './guard-source.js';

export type RevertPlan = string[][];

export interface GuardOptions {
  logFile: string;
  ackTimeoutMs?: number;
  onRestart?: (pid: number | null) => void;
}

export class RevertGuard {
  private child: ChildProcess | null = null;
  private plan: RevertPlan = [];
  private seq = 0;
  private waiters = new Map<number, () => void>();
  private stopped = false;
  restarts = 0;

  constructor(private readonly opts: GuardOptions) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Start the guard (idempotent). */
  start(): void {
    if (this.alive || this.stopped) return;
    const fd = openSync(this.opts.logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['-e', GUARD_SOURCE, GUARD_MARKER, String(process.pid)], {
        detached: true,
        stdio: ['pipe', 'pipe', fd],
      });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    child.unref();
    (child.stdout as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const m = /^ack (\d+)$/.exec(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (m) this.acked(Number(m[1]));
      }
    });
    child.stdin?.on('error', () => undefined);
    child.on('exit', () => {
      if (this.child !== child || this.stopped) return;
      this.child = null;
      this.restarts += 1;
      // Restart at once with the current plan: the guard is the only protection against SIGKILL.
      // (start() sends the current plan to the new guard as soon as it is spawned.)
      this.start();
      this.opts.onRestart?.(this.pid);
    });
    if (this.plan.length > 0) void this.send(false).catch(() => undefined);
  }

  /** Replace the plan; resolves once the guard acknowledged it. */
  setPlan(plan: RevertPlan): Promise<void> {
    this.plan = plan.map((a) => [...a]);
    return this.send(false);
  }

  /** The agent reverted everything: let the guard exit without acting. */
  async finish(): Promise<void> {
    this.plan = [];
    if (this.alive) await this.send(true).catch(() => undefined);
    this.stopped = true;
    this.child?.stdin?.end();
    this.child = null;
  }

  /**
   * Let go without reverting ourselves: the guard runs the current plan now, as if this process had
   * died (a CLI whose own restore failed hands it one more try, and exits without waiting).
   */
  release(): void {
    this.stopped = true;
    this.child?.stdin?.end();
    this.child = null;
  }

  private acked(seq: number): void {
    for (const [s, resolve] of this.waiters) {
      if (s <= seq) {
        this.waiters.delete(s);
        resolve();
      }
    }
  }

  private send(done: boolean): Promise<void> {
    if (!this.alive && !this.stopped && !done) {
      try {
        this.start();
      } catch {
        /* reported below as not running */
      }
    }
    const child = this.child;
    if (!child || !child.stdin || !this.alive) return Promise.reject(new Error('the revert guard is not running'));
    const seq = ++this.seq;
    const line = JSON.stringify({ seq, plan: this.plan, ...(done ? { done: true } : {}) }) + '\n';
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seq);
        reject(new Error(`the revert guard did not acknowledge plan ${seq} within ${this.opts.ackTimeoutMs ?? 15_000} ms`));
      }, this.opts.ackTimeoutMs ?? 15_000);
      this.waiters.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin?.write(line);
    });
  }
}

/** Whether `pid` is a running revert guard (reads /proc; false when it is gone or something else). */
export async function isGuardProcess(pid: number): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0').includes(GUARD_MARKER);
  } catch {
    return false;
  }
}

/** Wait until the guard `pid` has exited (it may be running a dead agent's revert), up to `timeoutMs`. */
export async function waitForGuardExit(pid: number, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isGuardProcess(pid))) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
