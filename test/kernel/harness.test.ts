import { describe, expect, it } from 'vitest';
import { runCases, type KernelCase } from './harness.js';

function collect(): { lines: string[]; write: (s: string) => void } {
  const lines: string[] = [];
  return { lines, write: (s) => lines.push(s) };
}

describe('runCases', () => {
  it('reports passes, failures with every reason, and the summary line', async () => {
    const order: string[] = [];
    const cases: KernelCase[] = [
      { name: 'passes', run: async () => { order.push('a'); } },
      {
        name: 'checks fail',
        run: async (t) => {
          t.defer(() => order.push('cleanup-1'));
          t.defer(() => order.push('cleanup-2'));
          t.check(false, 'first');
          t.check(true, 'never shown');
          t.check(false, 'second');
        },
      },
      { name: 'throws', run: async () => { throw new Error('boom'); } },
    ];
    const { lines, write } = collect();
    const { failed, results } = await runCases(cases, { write });
    expect(failed).toBe(2);
    expect(results.map((r) => r.reasons)).toEqual([[], ['first', 'second'], ['boom']]);
    expect(order).toEqual(['a', 'cleanup-2', 'cleanup-1']);
    expect(lines.at(-1)).toBe('1 passed, 2 failed');
    expect(lines.some((l) => l.startsWith('FAIL throws'))).toBe(true);
  });

  it('fails a case that exceeds its time limit, and still runs its cleanups', async () => {
    let cleaned = false;
    const { write } = collect();
    const { failed, results } = await runCases([
      { name: 'hangs', timeoutMs: 50, run: async (t) => { t.defer(() => { cleaned = true; }); await new Promise(() => undefined); } },
    ], { write });
    expect(failed).toBe(1);
    expect(results[0]?.reasons[0]).toMatch(/timed out after 50 ms/);
    expect(cleaned).toBe(true);
  });

  it('treats a filter that selects nothing as a failure, and rejects duplicate names', async () => {
    const { lines, write } = collect();
    expect((await runCases([{ name: 'x', run: async () => undefined }], { filter: /nope/, write })).failed).toBe(1);
    expect(lines.at(-1)).toBe('0 passed, 1 failed');
    await expect(runCases([{ name: 'x', run: async () => undefined }, { name: 'x', run: async () => undefined }], { write })).rejects.toThrow(/duplicate/);
  });

  it('shares values between cases of one run and runs atEnd cleanups once, after the last case', async () => {
    const { lines, write } = collect();
    let seen: unknown;
    const order: string[] = [];
    await runCases([
      { name: 'put', run: async (t) => { t.shared.set('k', 42); t.atEnd(() => order.push('end')); } },
      { name: 'get', run: async (t) => { seen = t.shared.get('k'); order.push('get'); } },
    ], { write });
    expect(seen).toBe(42);
    expect(order).toEqual(['get', 'end']);
    expect(lines.at(-1)).toBe('2 passed, 0 failed');
  });

  it('counts a failing atEnd cleanup as a failure', async () => {
    const { lines, write } = collect();
    const { failed } = await runCases([{ name: 'x', run: async (t) => { t.atEnd(() => { throw new Error('leak'); }); } }], { write });
    expect(failed).toBe(1);
    expect(lines.at(-1)).toBe('1 passed, 1 failed');
  });
});
