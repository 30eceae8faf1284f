/**
 * Schedule semantics, shared by the netem agent and the relay (pure; time and randomness injected).
 *
 *   base profile ──┬── phase 0 patch ──> effective impairment during phase 0
 *                  ├── phase 1 patch ──> ...
 *                  └── (null)        ──> the base itself (before an aligned start, in alignment
 *                                        gaps, and in a one-shot schedule's `tail: base`)
 *
 * Merge: a field set in a phase replaces the base's; `null` (YAML `none`) removes it; an absent
 * field keeps the base's. Compound fields (loss, slot) are replaced whole.
 *
 * Timeline (createTimeline): segments `{phaseIndex, startMs, endMs}` in wall-clock ms, contiguous
 * from `startWallMs`:
 *   - with `alignMs`, phase 0 of every iteration starts on a wall-clock multiple of `alignMs`
 *     (at or after the start / the previous iteration's end); the base fills the gap before it
 *     (a segment with phaseIndex null);
 *   - a random duration `{minMs, maxMs}` is drawn uniformly each time the phase starts, from the
 *     injected Random, rounded to whole ms; draws happen in timeline order (reproducible by seed);
 *   - `loop: true` repeats forever; `loop: false` ends with one open segment (endMs = Infinity) of
 *     the base (`tail: 'base'`, the default) or of the last phase (`tail: 'last'`).
 */
import type { Direction, Impairment, ImpairmentPatch, PhaseDuration, Profile, Schedule } from './profile.js';
import type { Random } from './random.js';

/** Apply field-by-field overrides to a base. Pure; neither argument is modified. */
export function applyPatch(base: Impairment, patch: ImpairmentPatch | undefined): Impairment {
  const out: Record<string, unknown> = { ...base };
  if (patch) {
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else if (v !== undefined) out[k] = v;
    }
  }
  return out as Impairment;
}

/** Whether the profile impairs this direction at any time (base or any phase). */
export function usesDirection(profile: Profile, direction: Direction): boolean {
  if (direction === 'egress') return true;
  return profile.ingress !== undefined || (profile.schedule?.phases.some((p) => p.ingress !== undefined) ?? false);
}

/**
 * The impairment in effect for `direction` during phase `phaseIndex` (null = the base).
 * Returns undefined when the profile never touches this direction (leave it alone entirely);
 * `{}` means "touched by the profile, but nothing to do right now".
 * Throws RangeError for a phase index the schedule does not have (a caller bug).
 */
export function effectiveImpairment(profile: Profile, phaseIndex: number | null, direction: Direction): Impairment | undefined {
  if (!usesDirection(profile, direction)) return undefined;
  const base = (direction === 'egress' ? profile.egress : profile.ingress) ?? {};
  if (phaseIndex === null) return { ...base };
  const phase = profile.schedule?.phases[phaseIndex];
  if (!phase) throw new RangeError(`profile ${profile.name} has no phase ${phaseIndex}`);
  return applyPatch(base, direction === 'egress' ? phase.egress : phase.ingress);
}

export interface TimelineSegment {
  /** Index into schedule.phases, or null for the base profile. */
  phaseIndex: number | null;
  /** Wall-clock ms (Unix epoch), inclusive. */
  startMs: number;
  /** Wall-clock ms, exclusive; Infinity for a one-shot schedule's tail. */
  endMs: number;
  /** Loop iteration (0-based) the segment belongs to; -1 for the gap before the aligned start. */
  iteration: number;
}

/** Draw a phase duration (ms): fixed as is, random uniformly in [minMs, maxMs], whole ms. */
export function drawDurationMs(d: PhaseDuration, random: Random): number {
  if (typeof d === 'number') return d;
  return Math.round(d.minMs + random.next() * (d.maxMs - d.minMs));
}

function alignUp(t: number, alignMs: number): number {
  return Math.ceil(t / alignMs) * alignMs;
}

/**
 * The schedule's segments from `startWallMs`, contiguous and in order (infinite for a loop).
 * Consume lazily; see the module comment for the semantics.
 */
export function* createTimeline(schedule: Schedule, startWallMs: number, random: Random): Generator<TimelineSegment, void, undefined> {
  let t = startWallMs;
  const align = schedule.alignMs;
  for (let iteration = 0; ; iteration++) {
    if (align !== undefined) {
      const next = alignUp(t, align);
      if (next > t) yield { phaseIndex: null, startMs: t, endMs: next, iteration: iteration - 1 };
      t = next;
    }
    for (let i = 0; i < schedule.phases.length; i++) {
      const d = drawDurationMs((schedule.phases[i] as { durationMs: PhaseDuration }).durationMs, random);
      yield { phaseIndex: i, startMs: t, endMs: t + d, iteration };
      t += d;
    }
    if (!schedule.loop) {
      const last = schedule.phases.length - 1;
      yield { phaseIndex: schedule.tail === 'last' ? last : null, startMs: t, endMs: Infinity, iteration };
      return;
    }
  }
}

/**
 * A forward-only cursor over a timeline, for engines that ask "what is in effect now?":
 *
 *   const cur = new TimelineCursor(profile.schedule, clock.wallMs(), random);
 *   for (;;) { const seg = cur.at(clock.wallMs()); apply(seg.phaseIndex); await clock.sleep(seg.endMs - clock.wallMs()); }
 *
 * `at(t)` returns the segment containing t (t before the start returns the first segment).
 * Times must not go backwards by more than the current segment (wall-clock steps backwards keep
 * the current segment). Skipped segments are still drawn, so a seed reproduces the same timeline.
 */
export class TimelineCursor {
  private readonly it: Generator<TimelineSegment, void, undefined>;
  private current: TimelineSegment;

  constructor(schedule: Schedule, startWallMs: number, random: Random) {
    this.it = createTimeline(schedule, startWallMs, random);
    this.current = this.it.next().value as TimelineSegment;
  }

  at(wallMs: number): TimelineSegment {
    while (wallMs >= this.current.endMs) {
      const n = this.it.next();
      if (n.done) break;
      this.current = n.value;
    }
    return this.current;
  }
}

/** The first segments of a timeline up to (not including) `untilMs`, e.g. for status and tests. */
export function timelineUntil(schedule: Schedule, startWallMs: number, random: Random, untilMs: number): TimelineSegment[] {
  const out: TimelineSegment[] = [];
  for (const seg of createTimeline(schedule, startWallMs, random)) {
    if (seg.startMs >= untilMs) break;
    out.push(seg);
    if (out.length > 1_000_000) break;
  }
  return out;
}

/** Shortest and longest length of one pass through the phases (ms), ignoring alignment gaps. */
export function cycleBoundsMs(schedule: Schedule): { minMs: number; maxMs: number } {
  let minMs = 0;
  let maxMs = 0;
  for (const p of schedule.phases) {
    minMs += typeof p.durationMs === 'number' ? p.durationMs : p.durationMs.minMs;
    maxMs += typeof p.durationMs === 'number' ? p.durationMs : p.durationMs.maxMs;
  }
  return { minMs, maxMs };
}
