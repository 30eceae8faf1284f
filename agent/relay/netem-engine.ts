/**
 * One direction of netem, in user space: the per-packet decisions of `netem_enqueue` and the
 * release order of `netem_dequeue` (sch_netem.c), driven by an injected time (`nowNs`) and a seeded
 * `Random`, with no I/O. The relay's scheduler calls `enqueue` on arrival and `dequeue` when the
 * time from `nextReleaseNs()` has come.
 *
 *   arrival -> duplicate? -> loss? -> corrupt? -> limit? -> reorder? --yes--> head queue (now)
 *                                                              \--no--> delay/jitter (+rate) -> tfifo
 *   (a duplicate is a copy that goes through the same steps again with duplication off, as netem
 *    re-enqueues its clone at the root)
 *   release: head queue first, then the earliest time_to_send, gated by the slot.
 *
 * `keepOrder` (YAML `order: keep`): a packet's send time is max(its own, the latest queued one),
 * as netem computes it when it carries a rate (the netem backend gives it one for this), so jitter
 * never reorders within the direction; ties leave in arrival order. The engine is per direction,
 * like a netem qdisc on a link, so order is kept across all flows of that direction (and hence
 * within each flow). With `rate`, order is kept as well (rate.ts).
 *
 * Reconfiguration (`configure`, a schedule phase switch) keeps queued packets and their send times,
 * and restarts the loss-model state, the reorder counter and the slot, as a netem change does.
 * `ecn` is not expressible here (no IP header): the planner refuses it before an engine is built.
 */
import type { Impairment } from '../../core/profile.js';
import type { Random } from '../../core/random.js';
import { chance } from './stages/crandom.js';
import { flipRandomBit } from './stages/corrupt.js';
import { createDelaySampler, type DelaySampler } from './stages/delay.js';
import { createLossModel, type LossModel } from './stages/loss.js';
import { packetTimeNs, rateSendTimeNs, type RateConfig } from './stages/rate.js';
import { createReorder, type Reorder } from './stages/reorder.js';
import { createSlot, type SlotState } from './stages/slot.js';
import { Tfifo } from './tfifo.js';
import { effectiveLimitPackets } from '../../core/limit.js';

export type EngineDropCause = 'loss' | 'queue';

export interface EnginePacket<M> {
  data: Buffer;
  /** Length netem would count (payload + headers), used by rate and slot bytes. */
  wireLen: number;
  meta: M;
}

/** What happened to one arrival (a duplicate adds a second outcome). */
export interface EnqueueOutcome {
  queued: number;
  drops: EngineDropCause[];
  duplicated: boolean;
  corrupted: number;
  reordered: number;
}

export class NetemEngine<M> {
  private q = new Tfifo<EnginePacket<M>>();
  private imp: Impairment = {};
  private loss!: LossModel;
  private dup!: () => boolean;
  private corrupt!: () => boolean;
  private delay!: DelaySampler;
  private reorder!: Reorder;
  private rate: RateConfig | null = null;
  private slot: SlotState | null = null;
  private limit = 1000;

  constructor(
    imp: Impairment,
    private readonly rng: Random,
    nowNs: number,
  ) {
    this.configure(imp, nowNs);
  }

  /** Replace the whole parameter set (no stale fields); queued packets keep their send times. */
  configure(imp: Impairment, nowNs: number): void {
    const rng = this.rng;
    this.imp = imp;
    this.loss = createLossModel(imp.loss, rng);
    this.dup = chance(rng, imp.duplicatePct, imp.duplicateCorrelationPct);
    this.corrupt = chance(rng, imp.corruptPct, imp.corruptCorrelationPct);
    this.delay = createDelaySampler(imp, rng);
    this.reorder = createReorder(imp, rng);
    this.rate = imp.rateKbit && imp.rateKbit > 0 ? { ...imp, rateKbit: imp.rateKbit } : null;
    this.slot = imp.slot ? createSlot(imp.slot, rng, nowNs) : null;
    // The same limit the netem backend renders (explicit limitPackets wins; otherwise sized so the
    // 1000-packet default never drops silently at line rate x delay: core/limit.ts).
    this.limit = effectiveLimitPackets(imp);
  }

  get impairment(): Impairment {
    return this.imp;
  }

  /** Packets queued now. */
  get depth(): number {
    return this.q.length;
  }

  /** True when this configuration passes every packet through untouched and at once. */
  get transparent(): boolean {
    const i = this.imp;
    return (
      this.delay.zero && !this.rate && !this.slot && !i.loss && !i.duplicatePct && !i.corruptPct && !i.reorderPct
    );
  }

  enqueue(pkt: EnginePacket<M>, nowNs: number): EnqueueOutcome {
    const out: EnqueueOutcome = { queued: 0, drops: [], duplicated: false, corrupted: 0, reordered: 0 };
    this.enqueueOne(pkt, nowNs, true, out);
    return out;
  }

  private enqueueOne(pkt: EnginePacket<M>, nowNs: number, mayDuplicate: boolean, out: EnqueueOutcome): void {
    let count = 1;
    if (mayDuplicate && this.dup()) count++;
    if (this.loss.lose()) count--;
    if (count === 0) {
      out.drops.push('loss');
      return;
    }
    const clone: EnginePacket<M> | null = count > 1 ? { ...pkt, data: Buffer.from(pkt.data) } : null;
    if (this.corrupt()) {
      flipRandomBit(pkt.data, this.rng);
      out.corrupted++;
    }
    if (this.q.length >= this.limit) {
      out.drops.push('queue');
    } else if (this.reorder.sendNow()) {
      this.q.pushHead(pkt);
      out.queued++;
      out.reordered++;
    } else {
      const delayNs = this.delay.sampleNs();
      let timeNs: number;
      if (this.rate) {
        timeNs = rateSendTimeNs(nowNs, delayNs, this.q.lastTimeNs(), packetTimeNs(pkt.wireLen, this.rate));
      } else if (this.imp.keepOrder === true) {
        timeNs = rateSendTimeNs(nowNs, delayNs, this.q.lastTimeNs(), 0);
      } else {
        timeNs = nowNs + delayNs;
      }
      this.q.pushTimed(timeNs, pkt);
      this.reorder.delayed();
      out.queued++;
    }
    if (clone) {
      out.duplicated = true;
      this.enqueueOne(clone, nowNs, false, out);
    }
  }

  /**
   * When the next packet may leave (ns), or null when the queue is empty. A time <= now means
   * "now". With a slot, this is max(time_to_send, slot opening).
   */
  nextReleaseNs(nowNs: number): number | null {
    if (this.q.hasHead()) return nowNs;
    const top = this.q.peekTimed();
    if (!top) return null;
    if (this.slot) {
      this.slot.onPeek(top.timeNs, nowNs);
      return Math.max(top.timeNs, this.slot.nextNs);
    }
    return top.timeNs;
  }

  /** The next packet due at `nowNs`, or null when none is due yet. */
  dequeue(nowNs: number): EnginePacket<M> | null {
    const h = this.q.shiftHead();
    if (h) return h;
    const top = this.q.peekTimed();
    if (!top) return null;
    if (this.slot) {
      this.slot.onPeek(top.timeNs, nowNs);
      if (top.timeNs > nowNs || this.slot.nextNs > nowNs) return null;
      this.q.popTimed();
      this.slot.consume(top.item.wireLen, nowNs);
      return top.item;
    }
    if (top.timeNs > nowNs) return null;
    this.q.popTimed();
    return top.item;
  }

  /** Remove all queued packets (stop, outage); returns them in release order. */
  drain(): EnginePacket<M>[] {
    return this.q.drain();
  }
}
