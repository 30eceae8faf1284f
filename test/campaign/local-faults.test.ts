import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { planLocalFault, runLocalFault } from '../../campaign/local-faults.js';
import { blackholeScript } from '../../agent/faults/fault-plan.js';
import type { FaultSpec } from '../../campaign/spec.js';

async function drive(clock: FakeClock, p: Promise<unknown>, stepMs = 50, maxMs = 10_000): Promise<void> {
  let done = false;
  void p.then(() => (done = true));
  for (let t = 0; t < maxMs && !done; t += stepMs) {
    await new Promise((r) => setImmediate(r));
    await clock.advance(stepMs);
  }
  await p;
}

describe('local faults', () => {
  it('plans ip argv without a shell', () => {
    expect(planLocalFault({ kind: 'link-down', name: 'f', agent: 'a', atMs: 0, durationMs: 1, dev: 'p0', netns: 'nsA' })).toEqual({
      start: ['ip', '-n', 'nsA', 'link', 'set', 'dev', 'p0', 'down'],
      restore: ['ip', '-n', 'nsA', 'link', 'set', 'dev', 'p0', 'up'],
    });
    expect(planLocalFault({ kind: 'blackhole', name: 'f', agent: 'a', atMs: 0, durationMs: 1, peer: '10.0.0.2/32', netns: 'nsA' }).start).toEqual(['ip', 'netns', 'exec', 'nsA', 'nft', blackholeScript('10.0.0.2/32')]);
  });

  it('a flap runs count x (down, wait, up, wait) and reports its span', async () => {
    const clock = new FakeClock(1000);
    const calls: string[] = [];
    const f: FaultSpec = { kind: 'flap', name: 'f', agent: 'a', atMs: 0, dev: 'p0', netns: 'n', downForMs: 200, upForMs: 300, count: 3 };
    const p = runLocalFault(f, clock, undefined, async (argv) => {
      calls.push(`${argv.at(-1)}@${clock.wallMs() - 1000}`);
    });
    await drive(clock, p);
    expect(calls).toEqual(['down@0', 'up@200', 'down@500', 'up@700', 'down@1000', 'up@1200']);
    expect(await p).toEqual({ startMs: 1000, endMs: 2200 });
  });

  it('the span contains the fault: start taken before the start command, end after the restore', async () => {
    const clock = new FakeClock(0);
    const slow = async (): Promise<void> => {
      await clock.advance(300); // one ip process on a loaded host
    };
    const p = runLocalFault({ kind: 'blackhole', name: 'f', agent: 'a', atMs: 0, durationMs: 1000, peer: '10.0.0.2/32', netns: 'n' }, clock, undefined, slow);
    await drive(clock, p);
    expect(await p).toEqual({ startMs: 0, endMs: 1600 });
  });

  it('restores even when interrupted', async () => {
    const clock = new FakeClock(0);
    const calls: string[] = [];
    const ac = new AbortController();
    const p = runLocalFault({ kind: 'link-down', name: 'f', agent: 'a', atMs: 0, durationMs: 5000, dev: 'p0', netns: 'n' }, clock, ac.signal, async (argv) => {
      calls.push(argv.at(-1) as string);
    });
    await clock.advance(100);
    ac.abort(new Error('ctrl-c'));
    await p;
    expect(calls).toEqual(['down', 'up']);
  });
});
