/**
 * The kernel tier's test harness: named cases run one after another in ONE node process inside the
 * guest (no vitest there: it costs ~20 s to start under emulation).
 *
 *   const cases: KernelCase[] = [{ name: 'netem: delay reads back', run: async (t) => { ... } }];
 *
 * A case passes when `run` resolves and fails when it throws (the message is the reason); `t.check`
 * records a failed expectation without stopping the case, so one run reports every deviation.
 * Cleanups registered with `t.defer` run in reverse order even when the case fails or times out.
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

async function runOne(c: KernelCase, shared: Map<string, unknown>, write: (s: string) => void): Promise<CaseResult> {
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
    shared,
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
  const shared = new Map<string, unknown>();
  const results: CaseResult[] = [];
  for (const c of selected) {
    write(`--- ${c.name}`);
    const r = await runOne(c, shared, write);
    results.push(r);
    const secs = (r.ms / 1000).toFixed(1);
    if (r.ok) write(`ok   ${c.name} (${secs} s)`);
    else {
      write(`FAIL ${c.name} (${secs} s)`);
      for (const reason of r.reasons) write(`       ${reason.split('\n').join('\n       ')}`);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  write(`${results.length - failed} passed, ${failed} failed`);
  return { failed, results };
}
