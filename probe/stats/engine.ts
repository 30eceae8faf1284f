/**
 * The statistics engine of one probe session. The sender reports events; the engine keeps every
 * statistic in constant memory (a ring of `windowSize` sequence slots plus fixed-size histograms),
 * whatever the run length.
 *
 *   sender ──sent/missed/reply/expire──> ProbeStats ──summary()/drainRtt()──> exporters (pull)
 *
 * Event contract (monotonic times are ns relative to the session origin, as numbers):
 *  - sent(seq, intendedNs, sentNs): seq are consecutive from 0 (missed slots consume no seq).
 *  - missed(slots, latenessNs): the sender skipped `slots` slots; they are attached to the next
 *    probe sent (its "carrier") for the coordinated-omission correction and per-outage counts.
 *  - reply(seq, arrivalNs, dwellNs, reflectorSeq?): first copy -> received; again -> duplicate;
 *    arriving at or after its timeout (arrivalNs - sentNs >= timeoutNs) -> late (lost for loss,
 *    counted in `late`), decided by the arrival time itself, whether or not expire() has run
 *    (reply() first expires up to arrivalNs); beyond the window -> late (cannot be told apart);
 *    never sent -> stray. Arrival times must be monotonic (the sender's clock).
 *  - expire(nowNs): every probe sent at or before nowNs - timeout and still unanswered is lost.
 *  - finish(): the session ended; unanswered probes count as lost (call after waiting the timeout).
 *
 * In arrival order: RTT, RTT from intended send time, RFC 3550 jitter, RFC 4737 reordering.
 *
 * RTT from intended send time (coordinated omission, HdrHistogram's expected-interval correction
 * as wrk2 applies it): every answered probe records rtt + (sent - intended). The schedule never
 * sends a slot more than Δ/2 late (it skips it as `missed`), so that alone cannot show a stall.
 * Each of the m = 1..n slots skipped just before an answered probe c therefore also records the
 * value it would have had if it had been sent when the sender resumed: its own lateness plus c's
 * RTT, i.e. rttIntended(c) + m·Δ. A stall of 10 intervals thus raises the max by ~10 intervals.
 * If c itself gets no timely reply, its skipped slots record nothing (no RTT to base them on);
 * they remain counted in `missed`. rttMs is never corrected. The n values are recorded with
 * LatencyDistribution.recordSeries: bounded work on the receive path however long the stall.
 * In sequence order (when a probe becomes final): IPDV (RFC 3393/5481), outages, direction split.
 */
import { Rfc3550Jitter } from './jitter.js';
import { LatencyDistribution, ms, type LatencyMs } from './latency.js';
import { OutageDetector, type OutageWindow } from './outage.js';
import { Rfc4737Reordering } from './reorder.js';

/** Cap of the RFC 4737 extent window (its ring holds the last N increases of the max seq, 16 B each). */
export const MAX_REORDER_WINDOW = 65536;

const PENDING = 0;
const RECEIVED = 1;
const LOST = 2;
const LOST_LATE = 3;

export interface ProbeStatsConfig {
  intervalNs: number;
  timeoutNs: number;
  /** Declared sequence window (probes tracked for duplicates/late/IPDV/reordering). */
  windowSize: number;
  /** Consecutive lost probes that make an outage (default 3). */
  outageMinLost: number;
  /** The reflector is stateful (its Seq counts what it received): per-direction loss. */
  directional: boolean;
  /** Session-relative monotonic ns -> wall ms (Unix epoch). */
  toWallMs: (ns: number) => number;
  maxOutagesKept?: number;
  onOutage?: (w: OutageWindow) => void;
  /** Capacity of the RTT sample queue the Prometheus exporter drains (drops counted beyond). */
  exportQueue?: number;
}

export type ReplyKind = 'received' | 'duplicate' | 'late' | 'stray';

export interface ProbeCounts {
  sent: number;
  received: number;
  lost: number;
  late: number;
  duplicates: number;
  reordered: number;
  missed: number;
  stray: number;
  inFlight: number;
}

export class ProbeStats {
  private readonly slotSeq: Float64Array;
  private readonly state: Uint8Array;
  private readonly sendNs: Float64Array;
  private readonly rttNs: Float64Array;
  private readonly reflSeq: Float64Array;
  private readonly intended: Float64Array;
  /** Slots skipped by the sender just before this probe's slot. */
  private readonly missedBefore: Float64Array;
  private pendingMissed = 0;
  private readonly W: number;
  private nextSeq = 0; // next seq to be sent
  private nextExpire = 0; // oldest seq that may still be pending
  private nextFinal = 0; // next seq to finalize in sequence order
  readonly rtt = new LatencyDistribution();
  readonly rttIntended = new LatencyDistribution();
  readonly sendLateness = new LatencyDistribution();
  readonly ipdvAbs = new LatencyDistribution();
  ipdvMinNs = Infinity;
  ipdvMaxNs = -Infinity;
  private prevFinalRtt: number | undefined;
  readonly jitter = new Rfc3550Jitter();
  readonly reorder: Rfc4737Reordering;
  readonly outages: OutageDetector;
  readonly c: ProbeCounts = { sent: 0, received: 0, lost: 0, late: 0, duplicates: 0, reordered: 0, missed: 0, stray: 0, inFlight: 0 };
  missedMaxLatenessNs = 0;
  unknownDirectionLost = 0;
  // RTT samples for the Prometheus exporter, drained off the hot path.
  private readonly q: Float64Array;
  private qLen = 0;
  exportDropped = 0;
  /** Queue RTT samples for an exporter (set by the Prometheus exporter when it attaches). */
  exportQueueEnabled = false;

  constructor(readonly cfg: ProbeStatsConfig) {
    const minWindow = Math.ceil(cfg.timeoutNs / cfg.intervalNs) + 2;
    if (cfg.windowSize < minWindow) {
      throw new RangeError(`sequence window ${cfg.windowSize} is smaller than timeout/interval + 2 = ${minWindow}`);
    }
    this.W = cfg.windowSize;
    this.slotSeq = new Float64Array(this.W).fill(-1);
    this.state = new Uint8Array(this.W);
    this.sendNs = new Float64Array(this.W);
    this.rttNs = new Float64Array(this.W);
    this.reflSeq = new Float64Array(this.W);
    this.intended = new Float64Array(this.W);
    this.missedBefore = new Float64Array(this.W);
    this.reorder = new Rfc4737Reordering(Math.min(this.W, MAX_REORDER_WINDOW));
    this.outages = new OutageDetector({
      minLost: cfg.outageMinLost,
      intervalNs: cfg.intervalNs,
      toWallMs: cfg.toWallMs,
      directional: cfg.directional,
      maxKept: cfg.maxOutagesKept ?? 1000,
      ...(cfg.onOutage ? { onOutage: cfg.onOutage } : {}),
    });
    this.q = new Float64Array(cfg.exportQueue ?? 65536);
  }

  /** The seq the next `sent` must carry. */
  get nextSequence(): number {
    return this.nextSeq;
  }

  sent(seq: number, intendedNs: number, sentNs: number): void {
    if (seq !== this.nextSeq) throw new RangeError(`sequence numbers must be consecutive: expected ${this.nextSeq}, got ${seq}`);
    // The slot being reused must be final (the window covers timeout/interval + 2 probes).
    if (this.nextFinal <= seq - this.W) this.forceFinal(seq - this.W);
    const i = seq % this.W;
    this.slotSeq[i] = seq;
    this.state[i] = PENDING;
    this.sendNs[i] = sentNs;
    this.rttNs[i] = NaN;
    this.reflSeq[i] = NaN;
    this.nextSeq = seq + 1;
    this.c.sent += 1;
    this.c.inFlight += 1;
    this.sendLateness.record(Math.max(0, sentNs - intendedNs));
    this.intended[i] = intendedNs;
    this.missedBefore[i] = this.pendingMissed;
    this.pendingMissed = 0;
  }

  /** A slot was skipped because the sender woke `latenessNs` late (never loss, never re-sent). */
  missed(slots: number, latenessNs: number): void {
    this.c.missed += slots;
    this.pendingMissed += slots;
    if (latenessNs > this.missedMaxLatenessNs) this.missedMaxLatenessNs = latenessNs;
  }

  reply(seq: number, arrivalNs: number, dwellNs: number, reflectorSeq?: number): ReplyKind {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.nextSeq) {
      this.c.stray += 1;
      return 'stray';
    }
    // A reply at or after its timeout is late even if expire() has not run yet (same rule as expire).
    this.expire(arrivalNs);
    const i = seq % this.W;
    if (this.slotSeq[i] !== seq) {
      this.c.late += 1; // older than the window: necessarily after its timeout
      return 'late';
    }
    const st = this.state[i];
    if (st === RECEIVED || st === LOST_LATE) {
      this.c.duplicates += 1;
      return 'duplicate';
    }
    if (st === LOST) {
      this.state[i] = LOST_LATE;
      this.c.late += 1;
      return 'late';
    }
    const sent = this.sendNs[i] as number;
    const raw = arrivalNs - sent;
    const rtt = dwellNs >= 0 && dwellNs <= raw ? raw - dwellNs : raw;
    this.state[i] = RECEIVED;
    this.rttNs[i] = rtt;
    if (reflectorSeq !== undefined) this.reflSeq[i] = reflectorSeq;
    this.c.received += 1;
    this.c.inFlight -= 1;
    this.rtt.record(rtt);
    const fromIntended = rtt + (sent - (this.intended[i] as number));
    this.rttIntended.record(fromIntended);
    const skipped = this.missedBefore[i] as number;
    const d = this.cfg.intervalNs;
    if (skipped > 0) this.rttIntended.recordSeries(fromIntended + d, d, skipped); // m = 1..skipped: bounded work
    this.jitter.add(sent, arrivalNs);
    if (this.reorder.add(seq) > 0) this.c.reordered += 1;
    if (this.exportQueueEnabled) {
      if (this.qLen < this.q.length) this.q[this.qLen++] = rtt;
      else this.exportDropped += 1;
    }
    this.finalize();
    return 'received';
  }

  /** Declare lost every probe sent at or before `nowNs - timeoutNs` still unanswered. */
  expire(nowNs: number): void {
    const limit = nowNs - this.cfg.timeoutNs;
    while (this.nextExpire < this.nextSeq) {
      const i = this.nextExpire % this.W;
      if ((this.sendNs[i] as number) > limit) break;
      if (this.state[i] === PENDING) this.markLost(i);
      this.nextExpire += 1;
    }
    this.finalize();
  }

  /** End of session: everything still pending is lost; close any open outage. */
  finish(): void {
    for (let s = this.nextExpire; s < this.nextSeq; s++) {
      const i = s % this.W;
      if (this.state[i] === PENDING) this.markLost(i);
    }
    this.nextExpire = this.nextSeq;
    this.finalize();
    if (this.cfg.directional) this.unknownDirectionLost += this.outages.openRunLost;
    this.outages.finish();
  }

  /** Take the RTT samples (ns) recorded since the last drain (for classic Prometheus histograms). */
  drainRtt(fn: (rttNs: number) => void): void {
    for (let k = 0; k < this.qLen; k++) fn(this.q[k] as number);
    this.qLen = 0;
  }

  private markLost(i: number): void {
    this.state[i] = LOST;
    this.c.lost += 1;
    this.c.inFlight -= 1;
  }

  private forceFinal(upTo: number): void {
    // Only reachable when the caller skipped expire() for longer than the window: expire by force.
    for (let s = this.nextExpire; s <= upTo; s++) {
      const i = s % this.W;
      if (this.state[i] === PENDING) this.markLost(i);
    }
    if (this.nextExpire <= upTo) this.nextExpire = upTo + 1;
    this.finalize();
  }

  private finalize(): void {
    while (this.nextFinal < this.nextSeq) {
      const s = this.nextFinal;
      const i = s % this.W;
      const st = this.state[i];
      if (st === PENDING) return;
      if (st === RECEIVED) {
        const rtt = this.rttNs[i] as number;
        if (this.prevFinalRtt !== undefined) {
          const ipdv = rtt - this.prevFinalRtt;
          this.ipdvAbs.record(Math.abs(ipdv));
          if (ipdv < this.ipdvMinNs) this.ipdvMinNs = ipdv;
          if (ipdv > this.ipdvMaxNs) this.ipdvMaxNs = ipdv;
        }
        this.prevFinalRtt = rtt;
        const r = this.reflSeq[i] as number;
        this.outages.received({ seq: s, sendNs: this.sendNs[i] as number, missedBefore: this.missedBefore[i] as number, ...(Number.isNaN(r) ? {} : { reflectorSeq: r }) });
      } else {
        this.prevFinalRtt = undefined; // IPDV is undefined across a loss
        this.outages.lost(s, this.sendNs[i] as number, this.missedBefore[i] as number);
      }
      this.nextFinal += 1;
    }
  }

  counts(): ProbeCounts {
    return { ...this.c };
  }

  ipdvMs(): { count: number; meanAbs: number | null; p50Abs: number | null; p99Abs: number | null; maxAbs: number | null; min: number | null; max: number | null } {
    const d = this.ipdvAbs;
    if (d.count === 0) return { count: 0, meanAbs: null, p50Abs: null, p99Abs: null, maxAbs: null, min: null, max: null };
    const l = d.toMs();
    return { count: d.count, meanAbs: l.mean, p50Abs: l.p50, p99Abs: l.p99, maxAbs: l.max, min: ms(this.ipdvMinNs), max: ms(this.ipdvMaxNs) };
  }

  /** PDV (RFC 5481 §4.2): RTT quantile minus the minimum RTT. */
  pdvMs(): { p50: number | null; p99: number | null; p999: number | null } {
    const l: LatencyMs = this.rtt.toMs();
    if (l.min === null) return { p50: null, p99: null, p999: null };
    const sub = (x: number | null): number | null => (x === null ? null : Math.round((x - (l.min as number)) * 1e6) / 1e6);
    return { p50: sub(l.p50), p99: sub(l.p99), p999: sub(l.p999) };
  }
}
