/**
 * One-way delays, only when both clocks say they are synchronised to UTC (our declared state and the
 * S bit of the reflector's Error Estimate in each reply): forward = T2 - T1, reverse = T4 - T3, from
 * the wall-clock timestamps in the packets. They can be negative when the clocks disagree by more
 * than the delay, so only exact running figures are kept (no histogram), each reported with the
 * worst combined error bound seen (our Error Estimate + the reflector's). Replies whose reflector
 * clock is not synchronised are counted and left out. Constant memory.
 */
import { ms } from './latency.js';

class Running {
  count = 0;
  min = Infinity;
  max = -Infinity;
  private sum = 0;
  private sumSq = 0;

  add(x: number): void {
    this.count += 1;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.sum += x;
    this.sumSq += x * x;
  }

  toMs(): { count: number; min: number | null; mean: number | null; max: number | null; stddev: number | null } {
    if (this.count === 0) return { count: 0, min: null, mean: null, max: null, stddev: null };
    const m = this.sum / this.count;
    return { count: this.count, min: ms(this.min), mean: ms(m), max: ms(this.max), stddev: ms(Math.sqrt(Math.max(0, this.sumSq / this.count - m * m))) };
  }
}

export interface OneWayMs {
  forward: ReturnType<Running['toMs']>;
  reverse: ReturnType<Running['toMs']>;
  /** Largest combined clock error bound (ours + reflector's) over the samples, ms. */
  errorBoundMs: number | null;
  /** Replies left out because the reflector's clock was not synchronised (S bit 0). */
  unsynchronizedReplies: number;
}

export class OneWayDelay {
  private readonly fwd = new Running();
  private readonly rev = new Running();
  private errorNs = 0;
  unsynchronized = 0;

  add(forwardNs: number, reverseNs: number, errorBoundNs: number): void {
    this.fwd.add(forwardNs);
    this.rev.add(reverseNs);
    if (errorBoundNs > this.errorNs) this.errorNs = errorBoundNs;
  }

  toMs(): OneWayMs {
    return {
      forward: this.fwd.toMs(),
      reverse: this.rev.toMs(),
      errorBoundMs: this.fwd.count === 0 ? null : ms(this.errorNs),
      unsynchronizedReplies: this.unsynchronized,
    };
  }
}
