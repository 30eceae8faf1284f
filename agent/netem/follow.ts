/**
 * Run a scheduled profile's phases in the foreground (`backhaul apply --follow`), for use without
 * an agent. The base must already be applied. Each boundary is one `applyPhase` (one tc batch that
 * touches only the class and the leaf); the caller passes what it applied last so the leaf is
 * changed in place where that is exact.
 *
 *   TimelineCursor(schedule, now) -> sleep to the segment's start -> applyPhase(segment) -> report
 *
 * Ends when `signal` aborts or `untilWallMs` passes (resolves; the caller clears the interface).
 * A failed switch rejects (the caller clears). Time and randomness are injected.
 */
import type { Clock } from '../../core/clock.js';
import type { Direction, Impairment, Profile } from '../../core/profile.js';
import type { Random } from '../../core/random.js';
import { TimelineCursor, effectiveImpairment } from '../../core/schedule.js';
import type { NetemTarget } from '../backend.js';

export interface PhaseSwitcher {
  applyPhase(target: NetemTarget, profile: Profile, phaseIndex: number | null,
    previous?: Partial<Record<Direction, Impairment>>, signal?: AbortSignal): Promise<unknown>;
}

export interface PhaseEvent {
  phaseIndex: number | null;
  name: string;
  /** planned start (wall ms) and when the switch completed */
  plannedMs: number;
  appliedMs: number;
  /** planned end (Infinity for a one-shot tail) */
  endMs: number;
}

function effectiveBoth(profile: Profile, phaseIndex: number | null): Partial<Record<Direction, Impairment>> {
  const out: Partial<Record<Direction, Impairment>> = {};
  for (const d of ['egress', 'ingress'] as const) {
    const imp = effectiveImpairment(profile, phaseIndex, d);
    if (imp) out[d] = imp;
  }
  return out;
}

export function phaseLabel(profile: Profile, index: number | null): string {
  if (index === null) return 'base';
  return profile.schedule?.phases[index]?.name ?? `phase ${index + 1}`;
}

export async function followSchedule(
  switcher: PhaseSwitcher,
  target: NetemTarget,
  profile: Profile,
  deps: { clock: Clock; random: Random; onPhase?: (e: PhaseEvent) => void; untilWallMs?: number; signal?: AbortSignal },
): Promise<void> {
  const schedule = profile.schedule;
  if (!schedule) return;
  const { clock, signal } = deps;
  const until = deps.untilWallMs ?? Infinity;
  const cursor = new TimelineCursor(schedule, clock.wallMs(), deps.random);
  let current: number | null = null; // the base is in effect
  let previous = effectiveBoth(profile, null);
  for (;;) {
    if (signal?.aborted) return;
    const now = clock.wallMs();
    if (now >= until) return;
    const seg = cursor.at(now);
    if (seg.phaseIndex !== current) {
      try {
        await switcher.applyPhase(target, profile, seg.phaseIndex, previous, signal);
      } catch (e) {
        // Aborted in the middle of a switch: stop here; the caller clears the interface.
        if (signal?.aborted) return;
        throw e;
      }
      current = seg.phaseIndex;
      previous = effectiveBoth(profile, seg.phaseIndex);
      deps.onPhase?.({ phaseIndex: seg.phaseIndex, name: phaseLabel(profile, seg.phaseIndex), plannedMs: seg.startMs, appliedMs: clock.wallMs(), endMs: seg.endMs });
    }
    const wake = Math.min(seg.endMs, until);
    if (wake === Infinity) {
      // One-shot schedule at its tail, no end given: hold until aborted (without a signal: done).
      if (!signal) return;
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    try {
      await clock.sleep(Math.max(0, wake - clock.wallMs()), signal);
    } catch {
      return; // aborted
    }
  }
}
