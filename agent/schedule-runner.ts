/**
 * Runs scheduled profiles on the agent, independent of any controller: phases switch on time until
 * the lease ends (or the impairment is deleted), whether or not anyone is connected.
 *
 *   timeline (core/schedule.ts TimelineCursor) -> at boundary - leadMs: take the target's lock,
 *   read state + plan the leaf-only switch (backend.preparePhase) -> sleep to the boundary ->
 *   run it (one tc batch) -> record planned vs actual time, event, metric
 *
 * The segment in effect at start is the base (create applied it); a segment whose phase is the one
 * already in effect is not re-applied. A failed switch is reported (event, lastError) and the
 * schedule carries on with the next boundary; the reconciler repairs a vanished tree.
 */
import type { Clock } from '../core/clock.js';
import { randomSeed, seededRandom, type Random } from '../core/random.js';
import { TimelineCursor, effectiveImpairment } from '../core/schedule.js';
import type { EventBus } from './events.js';
import type { ImpairmentManager } from './impairments/manager.js';
import { MAX_SWITCH_HISTORY, type ImpairmentRecord } from './impairments/record.js';

export interface ScheduleRunnerDeps {
  manager: ImpairmentManager;
  clock: Clock;
  events: EventBus;
  /** Plan this long before a boundary (ms); default 40. */
  leadMs?: number;
  random?: () => Random;
}

export function phaseName(rec: ImpairmentRecord, index: number | null): string {
  if (index === null) return 'base';
  return rec.profile.schedule?.phases[index]?.name ?? `phase-${index + 1}`;
}

export class ScheduleRunner {
  private readonly running = new Map<string, AbortController>();
  private readonly leadMs: number;

  constructor(private readonly deps: ScheduleRunnerDeps) {
    this.leadMs = deps.leadMs ?? 40;
  }

  /** Manager hook: start the schedule of a newly active impairment (if it has one). */
  onActive(rec: ImpairmentRecord): void {
    const backend = this.deps.manager.backend(rec);
    if (!rec.profile.schedule || !backend?.preparePhase) return;
    this.stop(rec.id);
    const ac = new AbortController();
    this.running.set(rec.id, ac);
    rec.phase = { index: -1, name: 'base', sinceMs: this.deps.clock.wallMs(), ...this.effective(rec, null) };
    void this.loop(rec, ac.signal).finally(() => {
      if (this.running.get(rec.id) === ac) this.running.delete(rec.id);
    });
  }

  /** Manager hook: stop the schedule of an impairment being removed. */
  onRemoved(rec: ImpairmentRecord): void {
    this.stop(rec.id);
  }

  stop(id: string): void {
    this.running.get(id)?.abort();
    this.running.delete(id);
  }

  stopAll(): void {
    for (const id of [...this.running.keys()]) this.stop(id);
  }

  private effective(rec: ImpairmentRecord, index: number | null): { egress?: ReturnType<typeof effectiveImpairment>; ingress?: ReturnType<typeof effectiveImpairment> } {
    const egress = effectiveImpairment(rec.profile, index, 'egress');
    const ingress = rec.profile.ingress ? effectiveImpairment(rec.profile, index, 'ingress') : undefined;
    return { ...(egress ? { egress } : {}), ...(ingress ? { ingress } : {}) };
  }

  private async loop(rec: ImpairmentRecord, signal: AbortSignal): Promise<void> {
    const { clock, manager, events } = this.deps;
    const schedule = rec.profile.schedule;
    if (!schedule) return;
    const random = this.deps.random?.() ?? seededRandom(randomSeed());
    const cursor = new TimelineCursor(schedule, clock.wallMs(), random);
    let current: number | null = null;
    let seg = cursor.at(clock.wallMs());
    let boundary = seg.startMs;
    try {
      for (;;) {
        if (seg.phaseIndex !== current) {
          const plannedAtMs = boundary;
          const target: number | null = seg.phaseIndex;
          await clock.sleep(Math.max(0, plannedAtMs - this.leadMs - clock.wallMs()), signal);
          await manager.withTarget(rec, async () => {
            if (signal.aborted || manager.record(rec.id) !== rec || rec.state !== 'active') return;
            const backend = manager.backend(rec);
            try {
              const run = await backend!.preparePhase!(rec.target, rec.profile, target);
              await clock.sleep(Math.max(0, plannedAtMs - clock.wallMs()), signal);
              await run();
              const actualAtMs = clock.wallMs();
              rec.phase = { index: target ?? -1, name: phaseName(rec, target), sinceMs: actualAtMs, ...this.effective(rec, target) };
              rec.phaseSwitches.push({ index: target ?? -1, name: rec.phase.name, plannedAtMs, actualAtMs });
              if (rec.phaseSwitches.length > MAX_SWITCH_HISTORY) rec.phaseSwitches.shift();
              rec.phaseSwitchCount += 1;
              events.emit({ type: 'phase.switched', id: rec.id, index: target ?? -1, name: rec.phase.name, plannedAtMs });
            } catch (e) {
              if (signal.aborted) return;
              rec.lastError = `phase switch to ${phaseName(rec, target)} failed: ${(e as Error).message}`;
              events.emit({ type: 'impairment.error', id: rec.id, message: rec.lastError });
            }
          });
          current = target;
        }
        if (signal.aborted || seg.endMs === Infinity) return;
        boundary = seg.endMs;
        seg = cursor.at(seg.endMs);
      }
    } catch (e) {
      if (!signal.aborted) events.emit({ type: 'impairment.error', id: rec.id, message: `schedule stopped: ${(e as Error).message}` });
    }
  }
}
