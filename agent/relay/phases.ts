/**
 * Schedules for a running relay: which phase of the profile is in effect, switched on time with
 * core/schedule.ts (TimelineCursor: fixed or random durations drawn from the seeded Random, loop or
 * one-shot with a tail, wall-clock alignment), or set by hand (`setPhase`, used by the agent and by
 * tests; it stops the automatic timeline).
 *
 * Every switch calls `apply(egress, ingress)` with the full effective impairment of both directions
 * (no stale fields) and is recorded in `history()` (newest last, bounded) with its wall time.
 * `stop()` cancels the timer; it is idempotent.
 */
import type { Clock } from '../../core/clock.js';
import type { Impairment, Profile } from '../../core/profile.js';
import type { Random } from '../../core/random.js';
import { effectiveImpairment, TimelineCursor } from '../../core/schedule.js';

export interface PhaseState {
  /** Index into profile.schedule.phases; null = the base profile. */
  phaseIndex: number | null;
  phaseName?: string;
  egress: Impairment;
  ingress: Impairment;
  /** Wall-clock ms when this phase took effect. */
  sinceMs: number;
  /** Wall-clock ms when the automatic timeline switches next (absent: manual or open-ended). */
  untilMs?: number;
}

export type ApplyImpairments = (egress: Impairment, ingress: Impairment) => void;

const HISTORY_MAX = 256;

export class PhaseDriver {
  private state: PhaseState;
  private readonly hist: PhaseState[] = [];
  private ctl: AbortController | null = null;
  private listeners: ((s: PhaseState) => void)[] = [];
  private stopped = false;

  constructor(
    private profile: Profile,
    private readonly apply: ApplyImpairments,
    private readonly deps: { clock: Clock; random: Random },
  ) {
    this.state = this.resolve(null, deps.clock.wallMs());
  }

  private resolve(phaseIndex: number | null, nowMs: number, untilMs?: number): PhaseState {
    const p = this.profile;
    const name = phaseIndex === null ? undefined : p.schedule?.phases[phaseIndex]?.name;
    return {
      phaseIndex,
      ...(name !== undefined ? { phaseName: name } : {}),
      egress: effectiveImpairment(p, phaseIndex, 'egress') ?? {},
      ingress: effectiveImpairment(p, phaseIndex, 'ingress') ?? {},
      sinceMs: nowMs,
      ...(untilMs !== undefined && Number.isFinite(untilMs) ? { untilMs } : {}),
    };
  }

  private enter(s: PhaseState): void {
    this.state = s;
    this.apply(s.egress, s.ingress);
    this.hist.push(s);
    if (this.hist.length > HISTORY_MAX) this.hist.shift();
    for (const l of this.listeners) l(s);
  }

  /** Apply the base (no schedule) or start the automatic timeline from now. */
  start(): void {
    const schedule = this.profile.schedule;
    const now = this.deps.clock.wallMs();
    if (!schedule) {
      this.enter(this.resolve(null, now));
      return;
    }
    const cursor = new TimelineCursor(schedule, now, this.deps.random);
    const ctl = new AbortController();
    this.ctl = ctl;
    let lastSegStart: number | null = null;
    const step = (): void => {
      if (this.stopped || ctl.signal.aborted) return;
      const t = this.deps.clock.wallMs();
      const seg = cursor.at(t);
      if (seg.startMs !== lastSegStart) {
        lastSegStart = seg.startMs;
        this.enter(this.resolve(seg.phaseIndex, t, seg.endMs));
      }
      if (Number.isFinite(seg.endMs)) {
        this.deps.clock.sleep(Math.max(0, seg.endMs - this.deps.clock.wallMs()), ctl.signal).then(step, () => {});
      }
    };
    step();
  }

  /** Pin a phase by hand (null = base); stops the automatic timeline. Throws RangeError for a bad index. */
  setPhase(phaseIndex: number | null): PhaseState {
    this.cancel();
    const s = this.resolve(phaseIndex, this.deps.clock.wallMs());
    this.enter(s);
    return s;
  }

  /** Replace the profile (same relay) and restart its schedule from now. */
  setProfile(profile: Profile): void {
    this.cancel();
    this.profile = profile;
    this.stopped = false;
    this.start();
  }

  current(): PhaseState {
    return this.state;
  }

  history(): PhaseState[] {
    return [...this.hist];
  }

  onPhase(listener: (s: PhaseState) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  private cancel(): void {
    this.ctl?.abort();
    this.ctl = null;
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
  }
}
