/**
 * The kernel tier's test harness: named cases run one after another in ONE node process inside the
 * guest (no vitest there: it costs ~20 s to start under emulation).
 *
 *   const cases: KernelCase[] = [{ name: 'netem: delay reads back', run: async (t) => { ... } }];
 *
 * A case passes when `run` resolves and fails when it throws (the message is the reason); `t.check`
 * records a failed expectation without stopping the case, so one run reports every deviation.
 * Cleanups registered with `t.defer` run in reverse order even when the case fails or times out;
 * `t.atEnd` cleanups run once after the last case (shared resources: see `once` in traffic.ts).
 * Output: one line per case (`ok`/`FAIL`, duration, reason), then `N passed, N failed`;
 * `runCases` resolves to the number of failures (the driver exits non-zero on any).
 */

export interface CaseContext {
  /** Log a line under the case (measurements, figures). */
  log(line: string): void;
  /** Record a failed expectation unless `ok`; the case continues and fails at its end. */
  check(ok: boolean, message: string): void;
  /** Register a cleanup (run in reverse order after the case, whatever happened). */
  defer(fn: () => Promise<unknown> | unknown): void;
  /** Values shared between cases of one run (e.g. a baseline measured once per boot). */
  shared: Map<string, unknown>;
  /** Register a cleanup that runs once after the last case (for resources in `shared`). */
  atEnd(fn: () => Promise<unknown> | unknown): void;
}

export interface KernelCase {
  name: string;
  run(t: CaseContext): Promise<void>;
  /** Fail the case after this long (default 60 000 ms). Measured against wall time in the guest. */
  timeoutMs?: number;
}

export interface CaseResult {
  name: string;
  ok: boolean;
  ms: number;
  reasons: string[];
}

export interface RunOptions {
  /** Run only cases whose name matches (e.g. from `KERNEL_CASES`). */
  filter?: RegExp;
  write?: (line: string) => void;
}

function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

interface RunState {
  shared: Map<string, unknown>;
  atEnd: (() => Promise<unknown> | unknown)[];
}

async function runOne(c: KernelCase, run: RunState, write: (s: string) => void): Promise<CaseResult> {
  const reasons: string[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const t: CaseContext = {
    log: (line) => write(`    ${line}`),
    check: (ok, msg) => {
      if (!ok) reasons.push(msg);
    },
    defer: (fn) => {
      cleanups.push(fn);
    },
    shared: run.shared,
    atEnd: (fn) => {
      run.atEnd.push(fn);
    },
  };
  const t0 = Date.now();
  const limit = c.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      c.run(t),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit);
      }),
    ]);
  } catch (e) {
    reasons.push(message(e));
  } finally {
    clearTimeout(timer);
  }
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (e) {
      reasons.push(`cleanup: ${message(e)}`);
    }
  }
  return { name: c.name, ok: reasons.length === 0, ms: Date.now() - t0, reasons };
}

/** Run the cases serially; print one line per case and a summary; resolve to the failure count. */
export async function runCases(cases: readonly KernelCase[], opts: RunOptions = {}): Promise<{ failed: number; results: CaseResult[] }> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s + '\n'));
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`duplicate kernel case name: ${c.name}`);
    names.add(c.name);
  }
  const selected = opts.filter ? cases.filter((c) => opts.filter?.test(c.name)) : [...cases];
  if (selected.length === 0) {
    write(`no case matches ${String(opts.filter)}`);
    write('0 passed, 1 failed');
    return { failed: 1, results: [] };
  }
  const state: RunState = { shared: new Map(), atEnd: [] };
  const results: CaseResult[] = [];
  for (const c of selected) {
    write(`--- ${c.name}`);
    const r = await runOne(c, state, write);
    results.push(r);
    const secs = (r.ms / 1000).toFixed(1);
    if (r.ok) write(`ok   ${c.name} (${secs} s)`);
    else {
      write(`FAIL ${c.name} (${secs} s)`);
      for (const reason of r.reasons) write(`       ${reason.split('\n').join('\n       ')}`);
    }
  }
  for (const fn of state.atEnd.reverse()) {
    try {
      await fn();
    } catch (e) {
      results.push({ name: 'suite cleanup', ok: false, ms: 0, reasons: [message(e)] });
      write(`FAIL suite cleanup: ${message(e)}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  write(`${results.length - failed} passed, ${failed} failed`);
  return { failed, results };
}
