/**
 * One fault run in the foreground by the process that asked for it (`backhaul fault ...` without
 * --agent): the same planner as the agent (fault-plan.ts), the same periods, no API.
 *
 *   guard.setPlan([restore])  ->  per period: start -> wait down -> restore -> wait up  ->  guard.setPlan([])
 *
 * Contract:
 * - Nothing is touched unless the guard (when one is given) acknowledged the restore first; a
 *   SIGKILLed caller's guard then runs it.
 * - Cancellation: aborting `signal` cuts the current wait short; the restore then runs at once
 *   (never skipped). An abort before the first start touches nothing.
 * - Partial failure: a failing start is followed by the restore anyway (both are idempotent), then
 *   the start's error is thrown. A restore is tried twice; if both fail, ERR_TC_FAILED is thrown
 *   with `details.restoreBy` (the command to run by hand, shell-quoted) and the guard keeps the
 *   restore (it runs it once more when this process exits).
 */
import { BackhaulError, isBackhaulError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { GuardPort } from '../impairments/manager.js';
import { faultPeriods, planFault, type FaultRequestInput } from './fault-plan.js';
import type { CmdRunner } from './fault-manager.js';

export type ForegroundEvent =
  | { type: 'start'; period: number; periods: number; atMs: number; forMs: number }
  | { type: 'restore'; period: number; periods: number; atMs: number; early: boolean };

export interface ForegroundDeps {
  run: CmdRunner;
  clock: Clock;
  /** Holds the restore while the fault is on (optional: tests and callers without a guard). */
  guard?: GuardPort;
  onEvent?: (e: ForegroundEvent) => void;
}

export interface ForegroundResult {
  kind: FaultRequestInput['kind'];
  /** Wall ms right before the first start command, and right after the last restore. */
  startMs: number;
  endMs: number;
  periodsDone: number;
  /** The signal cut the fault short. */
  interrupted: boolean;
  restored: true;
}

/** Quote argv for a POSIX shell (what to run by hand). Pure. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:@=,+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export async function runFaultForeground(f: FaultRequestInput, deps: ForegroundDeps, signal?: AbortSignal): Promise<ForegroundResult> {
  const argv = planFault(f);
  const periods = faultPeriods(f);
  const { clock, run } = deps;
  if (signal?.aborted) throw new BackhaulError('ERR_USAGE', 'interrupted before the fault started: nothing was changed');
  if (deps.guard) {
    try {
      await deps.guard.setPlan([argv.restore]);
    } catch (e) {
      throw new BackhaulError('ERR_INTERNAL', `the revert guard did not take the restore, so nothing was changed: ${(e as Error).message}`, {}, { cause: e });
    }
  }
  const startMs = clock.wallMs();
  let endMs = startMs;
  let periodsDone = 0;
  for (const [i, p] of periods.entries()) {
    if (signal?.aborted) break; // before the first start too: the guard holds a restore of nothing
    let startError: unknown = null;
    try {
      await run(argv.start);
    } catch (e) {
      startError = e;
    }
    if (!startError) {
      deps.onEvent?.({ type: 'start', period: i + 1, periods: periods.length, atMs: clock.wallMs(), forMs: p.downMs });
      await clock.sleep(p.downMs, signal).catch(() => undefined);
    }
    await restore(argv.restore, run);
    endMs = clock.wallMs();
    if (startError) {
      await deps.guard?.setPlan([]).catch(() => undefined);
      throw startError;
    }
    periodsDone = i + 1;
    deps.onEvent?.({ type: 'restore', period: i + 1, periods: periods.length, atMs: endMs, early: signal?.aborted ?? false });
    if (signal?.aborted) break;
    if (p.upMs > 0) await clock.sleep(p.upMs, signal).catch(() => undefined);
  }
  await deps.guard?.setPlan([]).catch(() => undefined);
  return { kind: f.kind, startMs, endMs, periodsDone, interrupted: signal?.aborted ?? false, restored: true };
}

async function restore(argv: string[], run: CmdRunner): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await run(argv);
      return;
    } catch (e) {
      last = e;
    }
  }
  const why = last instanceof Error ? last.message : String(last);
  throw new BackhaulError('ERR_TC_FAILED', `the fault could NOT be restored (${why}); run by hand: ${shellQuote(argv)}`, {
    restoreBy: shellQuote(argv),
    argv,
    ...(isBackhaulError(last) ? { cause: last.code } : {}),
    hint: `run as root: ${shellQuote(argv)}`,
  }, { cause: last });
}
