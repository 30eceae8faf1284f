/**
 * One direction of a relayed TCP connection: bytes read from `src` are written to `dst` after the
 * planned delay and bandwidth, in order.
 *
 *   chunk (<= 16 KiB piece) arrives at a:
 *     serialized  s = max(a, previous s) + bytes * 8 / rate        (rate 0: s = a)
 *     released    r = max(previous r, s + delay sample)            (jitter never reorders bytes)
 *
 * That is a bottleneck link followed by a propagation delay. The link (`previous s`) is shared by
 * every connection of the relay in this direction, as netem's rate is the interface's: N
 * connections share the configured rate, in arrival order. Outage `blackhole` holds everything
 * (nothing is written, reading stops once the buffer is full) until the outage ends, then releases
 * what is due. Backpressure instead of drops: when more than `highWaterBytes` are queued the source
 * is paused, and it resumes below half of that; a destination that refuses writes (`write()`
 * false) stops the pump until 'drain'.
 *
 * End of stream: when `src` ends, `dst.end()` follows once the queue is empty, after
 * `slowCloseMs` (0 = at once). `destroy()` drops what is queued.
 */
import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { Random } from '../../core/random.js';
import type { Waiter } from '../../probe/timer.js';
import { createDelaySampler, type DelaySampler } from './stages/delay.js';
import type { PipeEvents } from './release-pipe.js';
import type { TcpDirectionPlan } from './plan.js';
import { ReleaseTimer } from './release-timer.js';

const PIECE_BYTES = 16 * 1024;
const MIN_HIGH_WATER = 1024 * 1024;
const MAX_HIGH_WATER = 64 * 1024 * 1024;

/** The serialization state of one direction's link, shared by all connections (ns on `t0`). */
export interface SharedLink {
  serialEndNs: number;
}

export interface StreamPipeDeps {
  clock: Clock;
  /** Common time base (the relay's start) and the direction's link. */
  t0: bigint;
  link: SharedLink;
  waiter: Pick<Waiter, 'waitUntil'>;
  random: Random;
  events: PipeEvents;
  slowCloseMs: number;
}

interface Chunk {
  buf: Buffer;
  releaseNs: number;
}

export class StreamPipe {
  private q: Chunk[] = [];
  private qHead = 0;
  private queuedBytes = 0;
  private plan!: TcpDirectionPlan;
  private sampler!: DelaySampler;
  private highWater = MIN_HIGH_WATER;
  private lastReleaseNs = 0;
  private readonly t0: bigint;
  private readonly timer: ReleaseTimer;
  private blocked = false;
  private srcEnded = false;
  private ending = false;
  private done = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    plan: TcpDirectionPlan,
    private readonly deps: StreamPipeDeps,
  ) {
    this.t0 = deps.t0;
    this.timer = new ReleaseTimer(deps.waiter, this.t0, () => this.pump());
    this.configure(plan);
    src.on('data', (b: Buffer) => this.onData(b));
    src.on('end', () => {
      this.srcEnded = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.blocked = false;
      this.pump();
    });
  }

  private nowNs(): number {
    return Number(this.deps.clock.monoNs() - this.t0);
  }

  /** Chunks queued now. */
  get depth(): number {
    return this.q.length - this.qHead;
  }

  configure(plan: TcpDirectionPlan): void {
    this.plan = plan;
    this.sampler = createDelaySampler(
      { delayMs: plan.delayMs, jitterMs: plan.jitterMs, delayCorrelationPct: plan.delayCorrelationPct, ...(plan.distribution ? { distribution: plan.distribution } : {}) },
      this.deps.random,
    );
    const bytesPerSec = plan.rateKbit > 0 ? (plan.rateKbit * 1000) / 8 : 125_000_000;
    const windowSec = (plan.delayMs + plan.jitterMs) / 1000;
    this.highWater = Math.min(MAX_HIGH_WATER, Math.max(MIN_HIGH_WATER, Math.ceil(2 * bytesPerSec * windowSec)));
    this.pump();
  }

  private get immediate(): boolean {
    return this.sampler.zero && this.plan.rateKbit <= 0 && !this.plan.outage;
  }

  private onData(b: Buffer): void {
    if (this.done) return;
    const ev = this.deps.events;
    // Fast path: nothing to impose and nothing queued: write through (backpressure via drain).
    if (this.immediate && this.depth === 0 && !this.blocked) {
      ev.arrived(b.length);
      ev.released(b.length);
      if (!this.dst.write(b)) {
        this.blocked = true;
        this.src.pause();
      }
      return;
    }
    const now = this.nowNs();
    const piece = this.plan.rateKbit > 0 ? PIECE_BYTES : b.length;
    for (let off = 0; off < b.length; off += piece) {
      const buf = b.subarray(off, Math.min(b.length, off + piece));
      ev.arrived(buf.length);
      let s = now;
      if (this.plan.rateKbit > 0) {
        const link = this.deps.link;
        s = Math.max(now, link.serialEndNs) + (buf.length * 8 * 1e9) / (this.plan.rateKbit * 1000);
        link.serialEndNs = s;
      }
      const r = Math.max(this.lastReleaseNs, s + this.sampler.sampleNs());
      this.lastReleaseNs = r;
      this.q.push({ buf, releaseNs: r });
      this.queuedBytes += buf.length;
    }
    if (this.queuedBytes > this.highWater) this.src.pause();
    this.pump();
  }

  /** Write what is due; arm the waiter for the next chunk; finish the stream when drained. */
  private pump(): void {
    if (this.done) return;
    if (!this.plan.outage) {
      const now = this.nowNs();
      while (!this.blocked && this.qHead < this.q.length) {
        const c = this.q[this.qHead]!;
        if (c.releaseNs > now) break;
        this.qHead++;
        this.queuedBytes -= c.buf.length;
        this.deps.events.released(c.buf.length);
        if (!this.dst.write(c.buf)) this.blocked = true;
      }
      if (this.qHead > 1024 && this.qHead * 2 > this.q.length) {
        this.q = this.q.slice(this.qHead);
        this.qHead = 0;
      }
      if (this.qHead < this.q.length && !this.blocked) this.timer.arm(this.q[this.qHead]!.releaseNs);
    }
    if (this.queuedBytes <= this.highWater / 2 && !this.blocked && !this.srcEnded && this.src.isPaused()) this.src.resume();
    if (this.srcEnded && this.depth === 0 && !this.ending) {
      this.ending = true;
      const end = (): void => {
        if (!this.done && !this.dst.destroyed) this.dst.end();
      };
      if (this.deps.slowCloseMs > 0) setTimeout(end, this.deps.slowCloseMs);
      else end();
    }
  }

  /** Stop for good: cancel the timer, forget queued data. Idempotent. */
  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.timer.cancel();
    this.q = [];
    this.qHead = 0;
    this.queuedBytes = 0;
  }
}
