/**
 * Outage (failover) windows from a probe stream, fed in SEQUENCE order (each probe once, when it
 * is final: answered, or lost after its timeout).
 *
 *   answered a | lost a+1 .. b-1 (k = b-a-1 >= minLost) | answered b      Δ = probe interval
 *
 *   duration = send(b) - send(a) - Δ       (loss-derived bound: (k-1)Δ < outage < (k+1)Δ, RFC 6414)
 *   start    = send(a) + Δ/2,  end = send(b) - Δ/2,  bound = ±Δ
 *
 * send() are the actual monotonic send times, so sender stalls (missed slots) stretch the window
 * rather than shorten it; they are counted separately as `missed`, in the run as a whole and per
 * window (`missed`: slots the sender skipped between answered a and answered b, which widen the
 * window by that many intervals without being lost probes). A run at the very start has no
 * answered probe before it (a virtual one is placed one interval before the first lost probe and
 * the window is flagged `openStart`); a run still going when the session stops is closed at one
 * interval after the last lost probe and flagged `openEnd` (its duration is a lower bound).
 *
 * Direction (stateful reflector only): the reflector numbers what it receives, so between answered
 * a and b it received r_b - r_a - 1 of the k lost probes: forward-lost = k - (r_b - r_a - 1),
 * reverse-lost = r_b - r_a - 1. A window is `forward`, `reverse` or `both`.
 *
 * Constant memory: at most `maxKept` windows are kept (the earliest); later ones are only counted.
 */

export type Direction = 'forward' | 'reverse' | 'both';

export interface OutageWindow {
  /** Wall-clock ms (Unix epoch) of the estimated start / end. */
  startMs: number;
  endMs: number;
  durationMs: number;
  /** Lost probes in the run. */
  lost: number;
  /** ± bound of the duration (one interval), ms. */
  boundMs: number;
  firstLostSeq: number;
  lastLostSeq: number;
  /** Send slots the sender skipped (not sent, not lost) between the answered probes around the window. */
  missed: number;
  openStart: boolean;
  openEnd: boolean;
  direction?: Direction;
  forwardLost?: number;
  reverseLost?: number;
}

export interface Answered {
  seq: number;
  /** Monotonic send time, ns relative to the session origin. */
  sendNs: number;
  /** Stateful reflector's sequence number, when known. */
  reflectorSeq?: number;
  /** Slots the sender skipped just before this probe's slot (default 0). */
  missedBefore?: number;
}

export class OutageDetector {
  private last: Answered | undefined;
  private runLost = 0;
  private runFirst: { seq: number; sendNs: number } | undefined;
  private runLastSendNs = 0;
  private runLastSeq = 0;
  private runMissed = 0;
  readonly windows: OutageWindow[] = [];
  count = 0;
  totalDurationMs = 0;
  /** Direction split of every loss between two answered probes (stateful reflector only). */
  forwardLost = 0;
  reverseLost = 0;

  constructor(
    private readonly opts: {
      minLost: number;
      intervalNs: number;
      /** Monotonic ns (session-relative) -> wall ms. */
      toWallMs: (ns: number) => number;
      directional: boolean;
      maxKept?: number;
      onOutage?: (w: OutageWindow) => void;
    },
  ) {}

  /** A probe is final and lost; `missedBefore` slots were skipped just before it. */
  lost(seq: number, sendNs: number, missedBefore = 0): void {
    if (this.runLost === 0) {
      this.runFirst = { seq, sendNs };
      this.runMissed = 0;
    }
    this.runMissed += missedBefore;
    this.runLost += 1;
    this.runLastSendNs = sendNs;
    this.runLastSeq = seq;
  }

  received(p: Answered): void {
    const prev = this.last;
    if (this.runLost > 0 && this.opts.directional && p.reflectorSeq !== undefined) {
      // Before the first answer the reflector's count starts at 0 (virtual answered seq -1, r -1).
      const ra = prev?.reflectorSeq ?? -1;
      const reflected = Math.max(0, Math.min(this.runLost, p.reflectorSeq - ra - 1));
      this.forwardLost += this.runLost - reflected;
      this.reverseLost += reflected;
    }
    if (this.runLost >= this.opts.minLost) this.close(prev, p);
    this.runLost = 0;
    this.runFirst = undefined;
    this.last = p;
  }

  /** The session ended: close a run still open (flagged openEnd). */
  finish(): void {
    if (this.runLost >= this.opts.minLost) this.close(this.last, undefined);
    this.runLost = 0;
  }

  /** Lost probes in the run still open (not yet closed by an answer). */
  get openRunLost(): number {
    return this.runLost;
  }

  private close(a: Answered | undefined, b: Answered | undefined): void {
    const first = this.runFirst;
    if (!first) return;
    const d = this.opts.intervalNs;
    const aSend = a ? a.sendNs : first.sendNs - d;
    const bSend = b ? b.sendNs : this.runLastSendNs + d;
    const startNs = aSend + d / 2;
    const endNs = bSend - d / 2;
    const w: OutageWindow = {
      startMs: round3(this.opts.toWallMs(startNs)),
      endMs: round3(this.opts.toWallMs(endNs)),
      durationMs: round3((endNs - startNs) / 1e6),
      lost: this.runLost,
      boundMs: round3(d / 1e6),
      firstLostSeq: first.seq,
      lastLostSeq: this.runLastSeq,
      missed: this.runMissed + (b?.missedBefore ?? 0),
      openStart: a === undefined,
      openEnd: b === undefined,
    };
    if (this.opts.directional && b?.reflectorSeq !== undefined) {
      const ra = a?.reflectorSeq ?? -1;
      const reverse = Math.max(0, Math.min(this.runLost, b.reflectorSeq - ra - 1));
      const forward = this.runLost - reverse;
      w.forwardLost = forward;
      w.reverseLost = reverse;
      w.direction = reverse === 0 ? 'forward' : forward === 0 ? 'reverse' : 'both';
    }
    this.count += 1;
    this.totalDurationMs += w.durationMs;
    if (this.windows.length < (this.opts.maxKept ?? 1000)) this.windows.push(w);
    this.opts.onOutage?.(w);
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
