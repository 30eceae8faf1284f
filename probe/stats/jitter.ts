/**
 * RFC 3550 interarrival jitter (§6.4.1, A.8), in arrival order:
 *   D(i-1, i) = (R_i - R_{i-1}) - (S_i - S_{i-1});   J(i) = J(i-1) + (|D(i-1, i)| - J(i-1)) / 16
 * R = arrival time, S = send time (same clock: our monotonic clock, round trip). Units: ns.
 * The first packet sets the reference and leaves J at 0. Constant memory.
 */
export class Rfc3550Jitter {
  private prevSendNs: number | undefined;
  private prevArrivalNs = 0;
  private j = 0;

  /** Feed one arrival (first copy only, in arrival order). */
  add(sendNs: number, arrivalNs: number): void {
    if (this.prevSendNs !== undefined) {
      const d = arrivalNs - this.prevArrivalNs - (sendNs - this.prevSendNs);
      this.j += (Math.abs(d) - this.j) / 16;
    }
    this.prevSendNs = sendNs;
    this.prevArrivalNs = arrivalNs;
  }

  get jitterNs(): number {
    return this.j;
  }
}
