/**
 * Drives one direction's NetemEngine in real time: packets are enqueued on arrival, and released
 * (handed to `send`) when their send time comes, using a probe/timer Waiter (`sleep`, `hybrid`,
 * `busy`), so the relay's timing error is the waiter's.
 *
 *   push(pkt) -> engine.enqueue(now) -> pump(): release everything due -> arm(next release time)
 *                                                       ^                        |
 *                                                       +---- waiter resolves ---+
 *
 * One wait is pending at a time; an arrival with an earlier release time aborts it and arms a new
 * one. Transparent configurations (nothing to do) bypass the queue entirely. Times inside are
 * numbers of ns since the pipe's start (exact to 2^53 ns, ~104 days).
 *
 * Counting: every arrival, release and drop is reported through `events`, which never blocks.
 */
import type { Clock } from '../../core/clock.js';
import type { Impairment } from '../../core/profile.js';
import type { Random } from '../../core/random.js';
import type { Waiter } from '../../probe/timer.js';
import { ReleaseTimer } from './release-timer.js';
import { NetemEngine, type EngineDropCause, type EnginePacket } from './netem-engine.js';

export type DropCause = EngineDropCause | 'send-error' | 'flow-limit' | 'stopped';

export interface PipeEvents {
  arrived(bytes: number): void;
  released(bytes: number): void;
  dropped(cause: DropCause, bytes: number): void;
  duplicated(): void;
  corrupted(): void;
  reordered(): void;
}

export interface PipeDeps<M> {
  clock: Clock;
  waiter: Pick<Waiter, 'waitUntil'>;
  random: Random;
  /** Hand a packet on (a socket send). Must not throw; report failures as drops itself. */
  send(pkt: EnginePacket<M>): void;
  events: PipeEvents;
}

export class ReleasePipe<M> {
  private readonly engine: NetemEngine<M>;
  private readonly t0: bigint;
  private readonly timer: ReleaseTimer;
  private stopped = false;

  constructor(
    imp: Impairment,
    private readonly deps: PipeDeps<M>,
  ) {
    this.t0 = deps.clock.monoNs();
    this.timer = new ReleaseTimer(deps.waiter, this.t0, () => this.pump());
    this.engine = new NetemEngine<M>(imp, deps.random, 0);
  }

  private nowNs(): number {
    return Number(this.deps.clock.monoNs() - this.t0);
  }

  get depth(): number {
    return this.engine.depth;
  }

  get impairment(): Impairment {
    return this.engine.impairment;
  }

  /** Switch parameters (schedule phase); queued packets keep their send times. */
  configure(imp: Impairment): void {
    this.engine.configure(imp, this.nowNs());
    this.pump();
  }

  push(pkt: EnginePacket<M>): void {
    const ev = this.deps.events;
    ev.arrived(pkt.data.length);
    if (this.stopped) {
      ev.dropped('stopped', pkt.data.length);
      return;
    }
    if (this.engine.transparent && this.engine.depth === 0) {
      this.deps.send(pkt);
      ev.released(pkt.data.length);
      return;
    }
    const now = this.nowNs();
    const o = this.engine.enqueue(pkt, now);
    for (const cause of o.drops) ev.dropped(cause, pkt.data.length);
    if (o.duplicated) ev.duplicated();
    for (let i = 0; i < o.corrupted; i++) ev.corrupted();
    for (let i = 0; i < o.reordered; i++) ev.reordered();
    this.pump();
  }

  /** Release everything due now, then arm the waiter for the next release. */
  private pump(): void {
    if (this.stopped) return;
    const now = this.nowNs();
    for (;;) {
      const p = this.engine.dequeue(now);
      if (!p) break;
      this.deps.send(p);
      this.deps.events.released(p.data.length);
    }
    const next = this.engine.nextReleaseNs(now);
    if (next === null) return;
    this.timer.arm(next);
  }

  /** Stop releasing; queued packets are dropped (counted as 'stopped'). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer.cancel();
    for (const p of this.engine.drain()) this.deps.events.dropped('stopped', p.data.length);
  }
}
