/**
 * The impairment manager: leases, ownership, journal and guard bookkeeping around the backends.
 *
 *   create:  validate -> lease check (409) -> write-ahead revert plan -> journal.put -> guard ack
 *            -> backend.apply -> exact revert plan -> guard -> event
 *   delete:  ownership check -> backend.revert -> guard -> journal.remove -> event
 *   expiry:  a lease loop reverts every impairment whose monotonic deadline passed (re-checked
 *            under the target's lock, so a renew queued ahead of the expiry wins)
 *   renew:   a new deadline of `ttl` from now, or of the lease's own TTL when none is given
 * One impairment per target (targetKey); the same controller re-creating on its target replaces it,
 * another controller gets ERR_LEASE_CONFLICT (409) unless it forces. Work on one target is
 * serialised. A failed apply leaves the target reverted (the backend reverts a partial apply; we
 * revert again, idempotently) and no journal entry.
 *
 * Agreed start (`startAt`, campaigns): everything up to the apply (profile, lease check, journal,
 * guard) is done at once; then the apply waits, holding the target's lock, until the agent's wall
 * clock reaches `startAt` (at most START_AT_MAX_AHEAD_MS ahead; already past: at once; more than
 * START_AT_MAX_LATE_MS past: refused, a wrong clock or unit). `appliedAtMs` is the wall time the
 * apply completed, and the lease runs from then. A caller that goes away during the wait (its
 * connection closed: `signal`) cancels the create: nothing is applied.
 *
 * Write-ahead (crash safety): before the first tc/ip command of an apply (create, or a reconciler
 * re-apply), the target's journal entry is on disk AND the guard has acknowledged a revert plan that
 * undoes the apply from any point of it (backend.revertPlanAhead). If the guard cannot acknowledge,
 * the apply is refused (ERR_INTERNAL) rather than run unprotected. Phase switches touch only the
 * htb class and leaf, under the htb the plan deletes, so they do not change the plan; renewals
 * change only the lease (journal), never tc.
 */
import { randomBytes } from 'node:crypto';
import { BackhaulError } from '../../core/errors.js';
import type { Clock } from '../../core/clock.js';
import type { Profile } from '../../core/profile.js';
import type { AgentBackend } from '../agent-backend.js';
import { targetKey, targetLabel } from '../agent-backend.js';
import type { ImpairmentView } from '../api/types.js';
import type { CreateInput, RenewInput } from '../api/validate.js';
import type { EventBus } from '../events.js';
import type { Journal } from '../journal.js';
import { KeyedLock } from '../keyed-lock.js';
import { managementExcludes, mergeRules, type ManagementConfig } from './management.js';
import { toView, type ImpairmentRecord } from './record.js';

export interface ProfileResolver {
  /** A name from the library or an inline document; throws ERR_PROFILE_NOT_FOUND / ERR_PROFILE_INVALID. */
  resolve(input: string | Record<string, unknown>): Promise<Profile>;
}

export interface GuardPort {
  setPlan(plan: string[][]): Promise<void>;
}

/** Lifecycle hooks (the schedule runner, metrics). */
export interface ManagerHooks {
  onActive?(rec: ImpairmentRecord): void;
  onRemoved?(rec: ImpairmentRecord): void;
}

export interface LeaseConfig {
  defaultTtlMs: number;
  maxTtlMs: number;
}

export interface ManagerDeps {
  backends: Map<'netem' | 'relay', AgentBackend>;
  profiles: ProfileResolver;
  journal: Journal;
  guard: GuardPort;
  clock: Clock;
  events: EventBus;
  leases: LeaseConfig;
  management: ManagementConfig;
  hooks?: ManagerHooks;
  newId?: () => string;
  /** Called when the guard could not be updated (crash protection degraded). */
  onGuardError?: (e: Error) => void;
  /**
   * TEST HOOK (env BACKHAUL_TEST_APPLY_HOLD_MS, see docs/agent.md): hold this long after the guard
   * acknowledged the write-ahead plan (before tc runs) and again after the apply (before the exact
   * plan is sent), widening the windows a SIGKILL test aims at. 0/absent in production.
   */
  testApplyHoldMs?: number;
}

export interface Caller {
  /** The token's name ('anonymous' without auth). */
  token: string;
  /** The peer's address. */
  peer: string | null;
}

export type DeleteReason = 'api' | 'expired' | 'shutdown';

/** How far ahead of the agent's clock a `startAt` may lie (ms). */
export const START_AT_MAX_AHEAD_MS = 60_000;
/** How far in the past a `startAt` may lie and still be applied (at once) rather than refused (ms). */
export const START_AT_MAX_LATE_MS = 60_000;

/** Refuse a `startAt` outside the bounds (ERR_BAD_REQUEST with the problem). Pure. */
export function checkStartAt(startAtMs: number, nowMs: number): void {
  const ahead = startAtMs - nowMs;
  const problem =
    ahead > START_AT_MAX_AHEAD_MS
      ? `startAt: at most ${START_AT_MAX_AHEAD_MS} ms ahead of this agent's clock (it is ${Math.round(ahead)} ms ahead)`
      : -ahead > START_AT_MAX_LATE_MS
        ? `startAt: ${Math.round(-ahead)} ms in the past on this agent's clock (more than ${START_AT_MAX_LATE_MS} ms: a wrong clock or unit?)`
        : null;
  if (problem) throw new BackhaulError('ERR_BAD_REQUEST', problem, { problems: [problem], agentNowMs: nowMs });
}

export class ImpairmentManager {
  private readonly records = new Map<string, ImpairmentRecord>();
  /** Write-ahead revert plans of applies in progress (id -> plan), included in the guard's plan. */
  private readonly pending = new Map<string, string[][]>();
  private readonly lock = new KeyedLock();
  private readonly newId: () => string;

  constructor(private readonly deps: ManagerDeps) {
    this.newId = deps.newId ?? (() => `imp-${randomBytes(5).toString('hex')}`);
  }

  /**
   * All records in the order they became active (read-only use: metrics, reconciler, scheduler).
   * Concurrent creates become active in whichever order their applies complete.
   */
  all(): ImpairmentRecord[] {
    return [...this.records.values()];
  }

  /**
   * What GET /v1/impairments (and so `status --agent`, `clear --all`) lists: sorted by target
   * (`netem:NETNS:DEV`, then `relay:PROTO:LISTEN`; one impairment per target, so a total order),
   * the same from one call to the next whatever order concurrent creates completed in.
   */
  list(): ImpairmentView[] {
    return this.all()
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(toView);
  }

  get(id: string): ImpairmentView {
    return toView(this.mustGet(id));
  }

  record(id: string): ImpairmentRecord | undefined {
    return this.records.get(id);
  }

  /**
   * `signal` (the caller's connection): aborted while waiting for `startAt`, nothing is applied
   * (the target reverted, idempotently; no journal entry) and the create rejects.
   */
  async create(input: CreateInput, caller: Caller, signal?: AbortSignal): Promise<ImpairmentView> {
    if (input.startAtMs != null) checkStartAt(input.startAtMs, this.deps.clock.wallMs());
    const profile = await this.deps.profiles.resolve(input.profile);
    const backend = this.deps.backends.get(input.target.kind);
    if (!backend) {
      throw new BackhaulError('ERR_CAPABILITY_MISSING', `this agent has no ${input.target.kind} backend`, { available: [...this.deps.backends.keys()] });
    }
    const ttlMs = this.ttl(input.ttlMs);
    const controller = input.controller ?? caller.token;
    const managementExcluded = input.target.kind === 'netem' && !input.allowManagementInterface && !this.deps.management.disabled;
    const exclude = mergeRules(input.exclude, managementExcluded ? managementExcludes(this.deps.management, caller.peer) : []);
    const target = input.target.kind === 'netem'
      ? { ...input.target, ...(input.match.length ? { match: input.match } : {}), ...(exclude.length ? { exclude } : {}) }
      : input.target;
    const key = targetKey(target);
    return this.lock.run(key, async () => {
      const existing = this.byKey(key);
      if (existing && existing.controller !== controller && !input.force) throw this.conflict(existing);
      // Before anything is written: refusals (foreign root, ...) throw here, and the plan is known.
      const ahead = (await backend.revertPlanAhead?.(target, profile)) ?? null;
      const now = this.deps.clock.wallMs();
      const rec: ImpairmentRecord = {
        id: this.newId(), key, target, backend: backend.kind, profile, direction: input.direction, match: input.match,
        exclude, managementExcluded, controller, labels: input.labels, createdAtMs: now, appliedAtMs: now, expiresAtMs: now + ttlMs,
        expiresAtMonoNs: this.deps.clock.monoNs() + BigInt(ttlMs) * 1_000_000n, leaseTtlMs: ttlMs, state: 'applying', inEffect: false,
        notInEffect: { count: 0, totalMs: 0, lastAtMs: null, sinceMs: null },
        lastCheckedAtMs: null, lastError: null, revertPlan: [], phase: null, phaseSwitches: [], phaseSwitchCount: 0, reapplies: 0,
      };
      await this.deps.journal.put(this.entry(rec));
      if (ahead) {
        this.pending.set(rec.id, ahead);
        try {
          await this.pushGuard(true);
        } catch (e) {
          this.pending.delete(rec.id);
          await this.deps.journal.remove(rec.id);
          throw e;
        }
      }
      if (existing) this.drop(existing, existing.controller === controller ? 'api' : 'taken-over');
      try {
        await this.testHold();
        if (input.startAtMs != null) {
          await this.deps.clock.sleep(Math.max(0, input.startAtMs - this.deps.clock.wallMs()), signal);
          if (signal?.aborted) throw signal.reason;
        }
        await backend.apply(target, profile);
        await this.testHold();
      } catch (e) {
        await backend.revert(target).catch(() => undefined);
        this.pending.delete(rec.id);
        await this.deps.journal.remove(rec.id);
        if (existing) await this.deps.journal.remove(existing.id);
        await this.pushGuard();
        throw e;
      }
      if (existing) await this.deps.journal.remove(existing.id);
      rec.revertPlan = (await backend.revertPlan?.(target).catch(() => null)) ?? ahead ?? [];
      this.pending.delete(rec.id);
      rec.state = 'active';
      rec.inEffect = true;
      rec.appliedAtMs = rec.lastCheckedAtMs = this.deps.clock.wallMs();
      if (input.startAtMs != null) {
        // The lease runs from the apply (the startAt wait must not eat it).
        rec.expiresAtMs = rec.appliedAtMs + ttlMs;
        rec.expiresAtMonoNs = this.deps.clock.monoNs() + BigInt(ttlMs) * 1_000_000n;
        await this.deps.journal.put(this.entry(rec));
      }
      this.records.set(rec.id, rec);
      await this.pushGuard();
      this.deps.events.emit({ type: 'impairment.created', id: rec.id, view: toView(rec) });
      this.deps.hooks?.onActive?.(rec);
      return toView(rec);
    });
  }

  async renew(id: string, input: RenewInput, caller: Caller): Promise<ImpairmentView> {
    const rec = this.mustGet(id);
    return this.lock.run(rec.key, async () => {
      const current = this.mustGet(id);
      this.checkOwner(current, input.controller ?? caller.token, input.force);
      // Renew extends: without a ttl, the lease's own TTL again (not the agent's default, which may be shorter).
      const ttlMs = this.ttl(input.ttlMs ?? current.leaseTtlMs);
      current.leaseTtlMs = ttlMs;
      current.expiresAtMs = this.deps.clock.wallMs() + ttlMs;
      current.expiresAtMonoNs = this.deps.clock.monoNs() + BigInt(ttlMs) * 1_000_000n;
      if (input.force) current.controller = input.controller ?? caller.token;
      await this.deps.journal.put(this.entry(current));
      this.deps.events.emit({ type: 'impairment.renewed', id, expiresAtMs: current.expiresAtMs });
      return toView(current);
    });
  }

  /**
   * Revert and forget. `caller` null = the agent itself (expiry, shutdown): no ownership check.
   * With reason 'expired', the lease is checked again under the target's lock and nothing happens
   * when it no longer has ended (renewed meanwhile).
   */
  async delete(id: string, opts: { force?: boolean; controller?: string | null }, caller: Caller | null, reason: DeleteReason = 'api'): Promise<void> {
    const rec = this.mustGet(id);
    await this.lock.run(rec.key, async () => {
      const current = this.mustGet(id);
      // Expiry was decided outside the lock: a renew that ran while we waited for it wins.
      if (reason === 'expired' && (current.state !== 'active' || current.expiresAtMonoNs > this.deps.clock.monoNs())) return;
      if (caller) this.checkOwner(current, opts.controller ?? caller.token, opts.force ?? false);
      const backend = this.deps.backends.get(current.backend);
      current.state = 'reverting';
      this.deps.hooks?.onRemoved?.(current);
      try {
        await backend?.revert(current.target);
      } catch (e) {
        current.state = 'active';
        current.lastError = `revert failed: ${(e as Error).message}`;
        this.deps.events.emit({ type: 'impairment.error', id, message: current.lastError });
        throw e;
      }
      this.records.delete(id);
      this.pending.delete(id);
      await this.pushGuard();
      await this.deps.journal.remove(id);
      this.deps.events.emit({ type: 'impairment.deleted', id, reason });
    });
  }

  /** Revert every impairment whose lease ended. Failures are retried on the next call. */
  async expireDue(): Promise<void> {
    const now = this.deps.clock.monoNs();
    for (const rec of this.all()) {
      if (rec.state === 'active' && rec.expiresAtMonoNs <= now) {
        await this.delete(rec.id, {}, null, 'expired').catch(() => undefined);
      }
    }
  }

  /** Run the lease loop until `signal` aborts (checks every `everyMs`). */
  async runLeaseLoop(signal: AbortSignal, everyMs = 100): Promise<void> {
    while (!signal.aborted) {
      await this.expireDue();
      await this.deps.clock.sleep(everyMs, signal).catch(() => undefined);
    }
  }

  /** Revert everything (graceful shutdown). Resolves true when all reverted. */
  async revertAll(reason: DeleteReason = 'shutdown'): Promise<boolean> {
    let ok = true;
    for (const rec of this.all().reverse()) {
      await this.delete(rec.id, {}, null, reason).catch(() => {
        ok = false;
      });
    }
    return ok;
  }

  /** Run `task` with the target's lock held (the reconciler and scheduler use it). */
  withTarget<T>(rec: ImpairmentRecord, task: () => Promise<T>): Promise<T> {
    return this.lock.run(rec.key, task);
  }

  /**
   * Write-ahead for a re-apply of `rec` (the reconciler): hand the guard a plan that also undoes the
   * coming apply from any point of it, acknowledged before it runs. Throws (ERR_INTERNAL) when the
   * guard cannot acknowledge, or what the apply would refuse; the caller must not apply then.
   */
  async prepareReapply(rec: ImpairmentRecord): Promise<void> {
    const backend = this.deps.backends.get(rec.backend);
    const ahead = (await backend?.revertPlanAhead?.(rec.target, rec.profile)) ?? null;
    if (!ahead) return;
    this.pending.set(rec.id, ahead);
    await this.pushGuard(true);
  }

  /** Record a new revert plan for `rec` (after a re-apply) and hand the whole plan to the guard. */
  async refreshPlan(rec: ImpairmentRecord): Promise<void> {
    const backend = this.deps.backends.get(rec.backend);
    const exact = await backend?.revertPlan?.(rec.target).catch(() => null);
    rec.revertPlan = exact ?? this.pending.get(rec.id) ?? rec.revertPlan;
    this.pending.delete(rec.id);
    await this.pushGuard();
  }

  backend(rec: ImpairmentRecord): AgentBackend | undefined {
    return this.deps.backends.get(rec.backend);
  }

  private ttl(requested: number | null): number {
    const { defaultTtlMs, maxTtlMs } = this.deps.leases;
    const ttl = requested ?? defaultTtlMs;
    if (ttl <= 0) throw new BackhaulError('ERR_BAD_REQUEST', 'ttl: must be greater than zero', { problems: ['ttl: must be greater than zero'] });
    if (ttl > maxTtlMs) {
      throw new BackhaulError('ERR_BAD_REQUEST', `ttl: at most ${maxTtlMs} ms on this agent (got ${ttl})`, { problems: [`ttl: must be at most ${maxTtlMs} ms`], maxTtlMs });
    }
    return ttl;
  }

  private byKey(key: string): ImpairmentRecord | undefined {
    for (const r of this.records.values()) if (r.key === key) return r;
    return undefined;
  }

  private mustGet(id: string): ImpairmentRecord {
    const rec = this.records.get(id);
    if (!rec) throw new BackhaulError('ERR_NOT_FOUND', `no impairment ${id}`, { id });
    return rec;
  }

  private conflict(rec: ImpairmentRecord): BackhaulError {
    return new BackhaulError(
      'ERR_LEASE_CONFLICT',
      `${targetLabel(rec.target)} is held by controller "${rec.controller}" (impairment ${rec.id}) until ${new Date(rec.expiresAtMs).toISOString()}`,
      { id: rec.id, controller: rec.controller, expiresAtMs: rec.expiresAtMs, hint: 'retry with force: true (CLI: --force) to take it over' },
    );
  }

  private checkOwner(rec: ImpairmentRecord, controller: string, force: boolean): void {
    if (rec.controller !== controller && !force) throw this.conflict(rec);
  }

  /** Forget a record being replaced on the same target (its effect is overwritten by the new apply). */
  private drop(rec: ImpairmentRecord, reason: 'api' | 'taken-over'): void {
    this.records.delete(rec.id);
    this.pending.delete(rec.id);
    this.deps.hooks?.onRemoved?.(rec);
    this.deps.events.emit({ type: 'impairment.deleted', id: rec.id, reason });
  }

  private entry(rec: ImpairmentRecord) {
    return {
      id: rec.id, target: rec.target, backend: rec.backend, profileName: rec.profile.name,
      controller: rec.controller, createdAtMs: rec.createdAtMs, expiresAtMs: rec.expiresAtMs,
    };
  }

  /**
   * Hand the guard the revert plan of everything active and every apply in progress, newest first.
   * `strict`: a failure throws (write-ahead: nothing may be applied unprotected); otherwise it is
   * reported through onGuardError (crash protection degraded, the journal still covers it).
   */
  private async pushGuard(strict = false): Promise<void> {
    const plan = [...[...this.pending.values()].reverse().flat(), ...this.all().reverse().flatMap((r) => (this.pending.has(r.id) ? [] : r.revertPlan))];
    try {
      await this.deps.guard.setPlan(plan);
    } catch (e) {
      this.deps.onGuardError?.(e as Error);
      if (strict) {
        throw new BackhaulError('ERR_INTERNAL', `the revert guard did not take the revert plan, so nothing was applied: ${(e as Error).message}`, {
          hint: 'the agent restarts its guard by itself; retry in a moment, and see guard.log in the state directory',
        }, { cause: e });
      }
    }
  }

  private async testHold(): Promise<void> {
    const ms = this.deps.testApplyHoldMs ?? 0;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }
}
