/**
 * Impairments a site holds on real interfaces through the tc/netem backend, for sites without an
 * agent of their own (NetnsSite with a backend: `backhaul demo --netns`, labs). Root.
 *
 * - `apply` applies the profile's base with the backend, then (scheduled profiles) follows the
 *   schedule with `followSchedule` (one `applyPhase` per boundary), recording every switch with its
 *   actual time (wall ms of this host = the controller's: same machine).
 * - Leases are real: not renewed within its TTL, an impairment is reverted by a timer.
 * - `revert` is idempotent: it stops the schedule first, then reverts with the backend (the target
 *   as it was before the apply). A failed phase switch reverts the target and ends the schedule;
 *   `inEffect` then reads back null from the system and reports false.
 */
import { BackhaulError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { Impairment } from '../../core/profile.js';
import type { Random } from '../../core/random.js';
import { effectiveImpairment } from '../../core/schedule.js';
import type { ImpairmentBackend, NetemTarget } from '../../agent/backend.js';
import { followSchedule, type PhaseSwitcher } from '../../agent/netem/follow.js';
import { waitUntil, type ApplyRequest, type PhaseRecord } from './site.js';

interface Held {
  target: NetemTarget;
  leaseTimer: NodeJS.Timeout;
  phases: PhaseRecord[];
  stopSchedule: AbortController;
  following: Promise<void>;
}

const dropsAll = (i: Impairment | undefined): boolean => i?.loss?.model === 'random' && i.loss.pct >= 100;

export class NetemHolder {
  private readonly held = new Map<string, Held>();
  private counter = 0;

  constructor(
    private readonly prefix: string,
    private readonly backend: ImpairmentBackend & Partial<PhaseSwitcher>,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  async apply(req: ApplyRequest, defaultNetns: string | undefined, signal?: AbortSignal): Promise<{ id: string; appliedAtMs: number }> {
    const t = req.impairment.target;
    if (t.kind !== 'netem') throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.prefix}: only interface (dev) targets here, not a relay`);
    const netns = t.netns ?? defaultNetns;
    const target: NetemTarget = {
      kind: 'netem',
      dev: t.dev,
      ...(netns ? { netns } : {}),
      direction: req.impairment.direction,
      ...(req.impairment.match ? { match: req.impairment.match } : {}),
      ...(req.impairment.exclude ? { exclude: req.impairment.exclude } : {}),
    };
    const schedule = req.profile.schedule;
    if (schedule && typeof this.backend.applyPhase !== 'function') {
      throw new BackhaulError('ERR_UNSUPPORTED', `site ${this.prefix}: this backend cannot switch the phases of scheduled profile ${req.profile.name}`);
    }
    await waitUntil(this.clock, req.startAtMs, signal);
    await this.backend.apply(target, req.profile, signal);
    const id = `${this.prefix}-${++this.counter}`;
    const appliedAtMs = this.clock.wallMs();
    const held: Held = { target, leaseTimer: setTimeout(() => void this.revert(id), req.ttlMs), phases: [], stopSchedule: new AbortController(), following: Promise.resolve() };
    this.held.set(id, held);
    if (!schedule) {
      held.phases.push({ name: 'base', startMs: appliedAtMs, endMs: Number.POSITIVE_INFINITY, outage: false });
      return { id, appliedAtMs };
    }
    held.phases.push({ name: 'base', startMs: appliedAtMs, endMs: Number.POSITIVE_INFINITY, outage: dropsAll(req.profile.egress) || dropsAll(req.profile.ingress) });
    const run = followSchedule(this.backend as PhaseSwitcher, target, req.profile, {
      clock: this.clock,
      random: this.random,
      signal: held.stopSchedule.signal,
      onPhase: (e) => {
        const last = held.phases[held.phases.length - 1];
        if (last) last.endMs = e.appliedMs;
        const outage = dropsAll(effectiveImpairment(req.profile, e.phaseIndex, 'egress')) || dropsAll(effectiveImpairment(req.profile, e.phaseIndex, 'ingress'));
        held.phases.push({ name: e.name, startMs: e.appliedMs, endMs: Number.POSITIVE_INFINITY, outage });
      },
    });
    held.following = run.then(() => undefined, () => undefined);
    // A failed switch: take the impairment off rather than leave a half-switched leaf.
    run.catch(() => {
      if (this.held.get(id) === held) void this.revert(id).catch(() => undefined);
    });
    return { id, appliedAtMs };
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  renew(id: string, ttlMs: number): void {
    const h = this.held.get(id);
    if (!h) throw new BackhaulError('ERR_NOT_FOUND', `site ${this.prefix}: no impairment ${id} (its lease may have expired)`);
    clearTimeout(h.leaseTimer);
    h.leaseTimer = setTimeout(() => void this.revert(id), ttlMs);
  }

  async inEffect(id: string): Promise<boolean> {
    const h = this.held.get(id);
    if (!h) return false;
    return (await this.backend.status(h.target)) !== null;
  }

  phases(id: string): PhaseRecord[] {
    const now = this.clock.wallMs();
    return (this.held.get(id)?.phases ?? []).map((p) => ({ ...p, endMs: Number.isFinite(p.endMs) ? p.endMs : now }));
  }

  async revert(id: string): Promise<void> {
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    clearTimeout(h.leaseTimer);
    h.stopSchedule.abort();
    await h.following;
    const now = this.clock.wallMs();
    for (const p of h.phases) if (!Number.isFinite(p.endMs)) p.endMs = now;
    await this.backend.revert(h.target);
  }

  async clearAll(): Promise<number> {
    const ids = [...this.held.keys()];
    const errors: string[] = [];
    for (const id of ids) await this.revert(id).catch((e: Error) => errors.push(`${id}: ${e.message}`));
    if (errors.length) throw new BackhaulError('ERR_TC_FAILED', `site ${this.prefix}: could not revert ${errors.join('; ')}`);
    return ids.length;
  }
}
