/**
 * netem `rate`: per-packet serialization time (`packet_time_ns` in sch_netem.c), and how a new
 * packet's send time is computed against the last queued one (order is kept under rate):
 *
 *   len' = len + packetOverhead; with cellSize: cells = ceil(len' / cellSize),
 *   len' = cells * (cellSize + cellOverhead); time = len' * 1e9 / rateBytesPerSec.
 *
 *   if a packet is queued: delay -= last.timeToSend - now; delay = max(0, delay); now = last.timeToSend
 *   timeToSend = now + delay + time(len)
 *
 * That is a token bucket with a depth of one packet: back-to-back packets leave one serialization
 * time apart, idle time is not banked. The queue limit (`limitPackets`, netem default 1000) drops
 * arrivals while that many packets are queued.
 */

export interface RateConfig {
  rateKbit: number;
  packetOverheadBytes?: number;
  cellSizeBytes?: number;
  cellOverheadBytes?: number;
}

/** Serialization time of a packet of `lenBytes` (wire length) at the configured rate, in ns. */
export function packetTimeNs(lenBytes: number, cfg: RateConfig): number {
  let len = lenBytes + (cfg.packetOverheadBytes ?? 0);
  const cell = cfg.cellSizeBytes ?? 0;
  if (cell > 0) {
    const cells = Math.ceil(len / cell);
    len = cells * (cell + (cfg.cellOverheadBytes ?? 0));
  }
  const bytesPerSec = (cfg.rateKbit * 1000) / 8;
  return Math.floor((len * 1e9) / bytesPerSec);
}

/**
 * netem's send time for a packet under rate. `lastNs` is the latest time_to_send among queued
 * packets (null when the queue is empty).
 */
export function rateSendTimeNs(nowNs: number, delayNs: number, lastNs: number | null, serializationNs: number): number {
  let now = nowNs;
  let delay = delayNs;
  if (lastNs !== null) {
    delay -= lastNs - now;
    if (delay < 0) delay = 0;
    now = lastNs;
  }
  return now + delay + serializationNs;
}
