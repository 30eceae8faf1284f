/**
 * Reconciliation: is every impairment still on the system? Checks each one periodically and at
 * once when its interface changes (link events), by reading the live state back (never a cache):
 * `backend.presence` where the backend has it (in effect only when EVERY part of the tree is there:
 * a recreated interface comes back bare while our IFB survives, and someone may remove only the
 * root or only the ingress qdisc), else `backend.status() !== null`. When one vanished (interface deleted and recreated, qdisc removed by someone):
 * `inEffect` goes to 0 and an event is sent; with `reapply` (default) it is applied again (with the
 * schedule's current phase) and reported as re-applied, else it stays reported as not in effect.
 * Every gap is kept in the record's `notInEffect` history (setInEffect), so a gap that a re-apply
 * closed is still seen by whoever reads the impairment later (a campaign step's end).
 * A failed re-apply (the interface is still gone) is retried on the next check.
 */
import type { Counter } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { BackhaulError } from '../core/errors.js';
import type { EventBus } from './events.js';
import type { ImpairmentManager } from './impairments/manager.js';
import { setInEffect, type ImpairmentRecord } from './impairments/record.js';
import { LinkMonitor } from './link-monitor.js';

export interface ReconcilerDeps {
  manager: ImpairmentManager;
  events: EventBus;
  clock: Clock;
  reconcileTotal?: Counter<'result'>;
  /** Re-apply a vanished impairment (default true). */
  reapply?: boolean;
  /** Periodic check interval, ms (default 5000). */
  intervalMs?: number;
  /** Watch `ip monitor link` (default true; needs iproute2). */
  watchLinks?: boolean;
  log?: (s: string) => void;
}

const GONE = new Set(['ERR_INTERFACE_NOT_FOUND', 'ERR_NETNS_NOT_FOUND']);

export class Reconciler {
  private monitor: LinkMonitor | null = null;
  private readonly pending = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Run until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.deps.watchLinks !== false) {
      this.monitor = new LinkMonitor((ns, dev) => this.onLink(ns, dev), this.deps.log);
      this.syncMonitors();
    }
    signal.addEventListener('abort', () => {
      this.monitor?.stop();
      for (const t of this.pending.values()) clearTimeout(t);
      this.pending.clear();
    }, { once: true });
    while (!signal.aborted) {
      await this.deps.clock.sleep(this.deps.intervalMs ?? 5000, signal).catch(() => undefined);
      if (signal.aborted) break;
      await this.checkAll();
    }
  }

  /** Manager hooks: keep the set of watched namespaces in step with the impairments. */
  onActive(): void {
    this.syncMonitors();
  }

  onRemoved(): void {
    queueMicrotask(() => this.syncMonitors());
  }

  async checkAll(): Promise<void> {
    for (const rec of this.deps.manager.all()) await this.check(rec, 'periodic check');
  }

  /** Check one impairment now (under its target's lock). */
  async check(rec: ImpairmentRecord, reason: string): Promise<void> {
    const { manager, events, clock } = this.deps;
    await manager.withTarget(rec, async () => {
      if (manager.record(rec.id) !== rec || rec.state !== 'active') return;
      const backend = manager.backend(rec);
      if (!backend) return;
      let present: boolean;
      let missing: string[] = [];
      try {
        if (backend.presence) {
          ({ missing } = await backend.presence(rec.target, rec.profile));
          present = missing.length === 0;
        } else present = (await backend.status(rec.target)) !== null;
      } catch (e) {
        if (!(e instanceof BackhaulError && GONE.has(e.code))) {
          rec.lastError = `status check failed: ${(e as Error).message}`;
          this.deps.reconcileTotal?.inc({ result: 'failed' });
          return;
        }
        present = false;
      }
      rec.lastCheckedAtMs = clock.wallMs();
      if (present) {
        this.deps.reconcileTotal?.inc({ result: 'in-effect' });
        if (!rec.inEffect) {
          setInEffect(rec, true, rec.lastCheckedAtMs);
          events.emit({ type: 'impairment.in-effect', id: rec.id, inEffect: true, reason });
        }
        return;
      }
      this.deps.reconcileTotal?.inc({ result: 'missing' });
      if (rec.inEffect) {
        setInEffect(rec, false, rec.lastCheckedAtMs);
        const why = missing.length > 0 ? `${reason}: missing ${missing.join(', ')}` : reason;
        events.emit({ type: 'impairment.in-effect', id: rec.id, inEffect: false, reason: why });
      }
      if (this.deps.reapply === false) return;
      try {
        await manager.prepareReapply(rec); // write-ahead: the guard can undo the re-apply from any point
        await backend.apply(rec.target, rec.profile);
        if (rec.phase && rec.phase.index >= 0 && backend.preparePhase) {
          await (await backend.preparePhase(rec.target, rec.profile, rec.phase.index))();
        }
        rec.lastCheckedAtMs = clock.wallMs();
        setInEffect(rec, true, rec.lastCheckedAtMs);
        rec.reapplies += 1;
        rec.lastError = null;
        await manager.refreshPlan(rec);
        this.deps.reconcileTotal?.inc({ result: 'reapplied' });
        events.emit({ type: 'impairment.reapplied', id: rec.id, reason });
        events.emit({ type: 'impairment.in-effect', id: rec.id, inEffect: true, reason: 're-applied' });
      } catch (e) {
        const message = `re-apply failed: ${(e as Error).message}`;
        this.deps.reconcileTotal?.inc({ result: 'failed' });
        if (rec.lastError !== message) events.emit({ type: 'impairment.error', id: rec.id, message });
        rec.lastError = message;
      }
    });
  }

  private syncMonitors(): void {
    if (!this.monitor) return;
    const ns = new Set<string>();
    for (const r of this.deps.manager.all()) if (r.target.kind === 'netem') ns.add(r.target.netns ?? '');
    this.monitor.sync(ns);
  }

  /** A link changed: check the impairments on it soon (debounced; again a little later, as a
   * recreated interface often comes up in several steps). */
  private onLink(netns: string | undefined, dev: string): void {
    for (const rec of this.deps.manager.all()) {
      if (rec.target.kind !== 'netem' || rec.target.dev !== dev || (rec.target.netns ?? undefined) !== netns) continue;
      for (const delay of [100, 1000]) {
        const key = `${rec.id}:${delay}`;
        clearTimeout(this.pending.get(key));
        this.pending.set(key, setTimeout(() => {
          this.pending.delete(key);
          void this.check(rec, `link event on ${dev}`);
        }, delay));
      }
    }
  }
}
