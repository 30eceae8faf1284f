/**
 * The revert guard as a real child process: it acknowledges plans, runs the last plan when its pipe
 * closes (the agent died), exits quietly after `finish()`, ignores SIGTERM, and is restarted with
 * the current plan when it dies while the agent lives.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isGuardProcess, RevertGuard, waitForGuardExit } from '../../../agent/guard/guard-client.js';

/**
 * Deadline for a guard process to start, act and exit: a node start plus a few short commands,
 * seconds on a loaded 2-core host; the tests wait for the event, so a long deadline costs nothing.
 */
const EXIT_MS = 30_000;

let dir: string;
let guards: RevertGuard[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bh-guard-'));
});
afterEach(async () => {
  for (const g of guards) await g.finish();
  guards = [];
  rmSync(dir, { recursive: true, force: true });
});

function guard(onRestart?: (pid: number | null) => void): RevertGuard {
  const g = new RevertGuard({ logFile: join(dir, 'guard.log'), ...(onRestart ? { onRestart } : {}) });
  guards.push(g);
  g.start();
  return g;
}

/** What the agent's death looks like to the guard: its stdin pipe closes. */
function closePipe(g: RevertGuard): void {
  (g as unknown as { child: { stdin: NodeJS.WritableStream } }).child.stdin.end();
}

describe('revert guard', () => {
  it('runs the last acknowledged plan, in order, when the pipe closes', async () => {
    const g = guard();
    const pid = g.pid as number;
    expect(await isGuardProcess(pid)).toBe(true);
    const out = join(dir, 'out');
    await g.setPlan([['sh', '-c', `echo first >> ${out}`]]);
    await g.setPlan([['sh', '-c', `echo one >> ${out}`], ['false'], ['sh', '-c', `echo two >> ${out}`]]);
    closePipe(g);
    expect(await waitForGuardExit(pid, EXIT_MS)).toBe(true);
    // The replaced plan did not run; a failing step did not stop the next one.
    expect(readFileSync(out, 'utf8')).toBe('one\ntwo\n');
    expect(readFileSync(join(dir, 'guard.log'), 'utf8')).toMatch(/agent gone; running 3 revert step/);
  });

  it('exits without acting after finish()', async () => {
    const g = guard();
    const pid = g.pid as number;
    const out = join(dir, 'out');
    await g.setPlan([['touch', out]]);
    await g.finish();
    expect(await waitForGuardExit(pid, EXIT_MS)).toBe(true);
    expect(existsSync(out)).toBe(false);
  });

  it('ignores SIGTERM and SIGINT (only the pipe closing makes it act)', async () => {
    const g = guard();
    const pid = g.pid as number;
    await g.setPlan([['true']]);
    process.kill(pid, 'SIGTERM');
    process.kill(pid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    expect(await isGuardProcess(pid)).toBe(true);
    await g.setPlan([['true']]);
  });

  it('is restarted with the current plan when it dies', async () => {
    const restarts: (number | null)[] = [];
    const g = guard((pid) => restarts.push(pid));
    const first = g.pid as number;
    const out = join(dir, 'out');
    await g.setPlan([['touch', out]]);
    process.kill(first, 'SIGKILL');
    await expect.poll(() => restarts.length, { timeout: EXIT_MS }).toBe(1);
    const second = g.pid as number;
    expect(second).not.toBe(first);
    expect(g.restarts).toBe(1);
    // The new guard holds the plan: closing its pipe runs it.
    await expect.poll(async () => {
      await g.setPlan([['touch', out]]);
      return true;
    }, { timeout: EXIT_MS }).toBe(true);
    closePipe(g);
    expect(await waitForGuardExit(second, EXIT_MS)).toBe(true);
    expect(existsSync(out)).toBe(true);
  });

  it('a restarted guard holds the plan without the agent sending it again (restart is immediate)', async () => {
    const g = guard();
    const first = g.pid as number;
    const out = join(dir, 'held');
    await g.setPlan([['touch', out]]);
    process.kill(first, 'SIGKILL');
    await expect.poll(() => g.restarts, { timeout: EXIT_MS }).toBe(1);
    const second = g.pid as number;
    expect(second).not.toBe(first);
    // No setPlan here: the replacement got the current plan from start().
    await new Promise((r) => setTimeout(r, 500)); // node start + one ack, on a loaded host
    closePipe(g);
    expect(await waitForGuardExit(second, EXIT_MS)).toBe(true);
    expect(existsSync(out)).toBe(true);
  });

  it('setPlan with no live guard starts a replacement first, so the ack comes from a live guard', async () => {
    const g = guard();
    const first = g.pid as number;
    // Simulate "the guard is gone and its exit not yet handled": forget the child.
    (g as unknown as { child: null }).child = null;
    const out = join(dir, 'fresh');
    await g.setPlan([['touch', out]]);
    const second = g.pid as number;
    expect(second).not.toBe(first);
    expect(await isGuardProcess(second)).toBe(true);
    closePipe(g);
    expect(await waitForGuardExit(second, EXIT_MS)).toBe(true);
    expect(existsSync(out)).toBe(true);
    process.kill(first, 'SIGKILL');
  });

  it('ignores malformed plan messages', async () => {
    const g = guard();
    const child = (g as unknown as { child: { stdin: NodeJS.WritableStream } }).child;
    child.stdin.write('not json\n{"seq":99,"plan":"rm -rf /"}\n{"seq":98,"plan":[[1,2]]}\n');
    const out = join(dir, 'out');
    await g.setPlan([['touch', out]]);
    const pid = g.pid as number;
    closePipe(g);
    expect(await waitForGuardExit(pid, EXIT_MS)).toBe(true);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(join(dir, 'guard.log'), 'utf8')).toMatch(/ignoring malformed message/);
  });
});
