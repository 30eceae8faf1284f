/**
 * Reordering per RFC 4737, over first copies (duplicates removed first, §4.1), in arrival order.
 *
 *   NextExp = highest sequence number received so far + 1; a packet with s < NextExp is reordered (§3).
 *   Reordered ratio = reordered / received (§4.1).
 *   Extent of a reordered packet i (§4.2.1): e = i - j, where j is the earliest arrival index of a
 *   packet with a sequence number greater than s[i].
 *
 * Because NextExp only grows, "the earliest arrival with a larger sequence number" is the arrival at
 * which the running maximum first exceeded s[i]. We keep the last `windowSize` increases of the
 * maximum (value, arrival index) in a ring and binary-search it, so memory is constant. A packet
 * reordered by more than the window (older than every kept increase) is still counted reordered,
 * and its extent is reported as a lower bound (counted in `extentBeyondWindow`).
 *
 * irtt, by contrast, compares with the previous packet only: for arrivals 1,4,2,3 it flags only 2;
 * RFC 4737 flags 2 (extent 1) and 3 (extent 2).
 */
export class Rfc4737Reordering {
  private readonly maxSeq: Float64Array;
  private readonly maxAt: Float64Array;
  private head = 0; // index of the next write
  private size = 0;
  private highest = -Infinity;
  private arrivals = 0;
  reordered = 0;
  extentSum = 0;
  maxExtent = 0;
  extentBeyondWindow = 0;

  constructor(readonly windowSize = 4096) {
    this.maxSeq = new Float64Array(windowSize);
    this.maxAt = new Float64Array(windowSize);
  }

  /** Feed the first copy of `seq`; returns its extent when reordered, else 0. */
  add(seq: number): number {
    this.arrivals += 1;
    const i = this.arrivals;
    if (seq > this.highest) {
      this.highest = seq;
      this.maxSeq[this.head] = seq;
      this.maxAt[this.head] = i;
      this.head = (this.head + 1) % this.windowSize;
      if (this.size < this.windowSize) this.size += 1;
      return 0;
    }
    this.reordered += 1;
    // Binary search the ring (oldest..newest, increasing maxSeq) for the first entry with maxSeq > seq.
    const oldest = (this.head - this.size + this.windowSize) % this.windowSize;
    let lo = 0;
    let hi = this.size - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.maxSeq[(oldest + mid) % this.windowSize] as number) > seq) hi = mid;
      else lo = mid + 1;
    }
    const j = this.maxAt[(oldest + lo) % this.windowSize] as number;
    if (lo === 0 && this.size === this.windowSize) this.extentBeyondWindow += 1;
    const extent = i - j;
    this.extentSum += extent;
    if (extent > this.maxExtent) this.maxExtent = extent;
    return extent;
  }

  get received(): number {
    return this.arrivals;
  }

  get ratio(): number {
    return this.arrivals === 0 ? 0 : this.reordered / this.arrivals;
  }

  get meanExtent(): number {
    return this.reordered === 0 ? 0 : this.extentSum / this.reordered;
  }
}
