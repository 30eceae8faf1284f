/**
 * netem's queue limit, sized so its 1000-packet default never silently drops (iproute2#56,
 * comcast#28): a packet stays in netem for its delay (+ jitter tail + slot wait), and at line
 * rate the queue must hold everything sent meanwhile.
 *
 *   holdMs  = delayMs + JITTER_TAIL_FACTOR * jitterMs + slot.maxDelayMs (or minDelayMs) + QUEUE_ALLOWANCE_MS
 *   packets = ceil(HEADROOM * rateBitPerS * holdMs / 1000 / (8 * MTU_BYTES))
 *   limit   = max(1000, packets)                                   (explicit `limit` always wins)
 *
 * rateBitPerS is the profile's `rate`, or 1 Gbit/s (assumed line rate) without one. MTU_BYTES =
 * 1500: smaller packets at line rate need more, so profiles carrying small-packet floods at
 * gigabit rates should set `limit` explicitly. Example: 1 Gbit/s, 100 ms delay -> holdMs 120,
 * 1.5 * 1e9 * 0.12 / 12000 = 15000 packets.
 */
import type { Impairment } from './profile.js';

export const DEFAULT_LIMIT_PACKETS = 1000;
export const ASSUMED_LINE_RATE_KBIT = 1_000_000;
export const MTU_BYTES = 1500;
export const HEADROOM = 1.5;
/** netem's normal/pareto tables reach about 4 standard deviations ("jitter" is the scale). */
export const JITTER_TAIL_FACTOR = 4;
/** Extra time a packet may wait behind others when the rate is the bottleneck. */
export const QUEUE_ALLOWANCE_MS = 20;

/** The netem `limit` to use for this impairment (packets, >= 1000 unless set explicitly). Pure. */
export function effectiveLimitPackets(imp: Impairment): number {
  if (imp.limitPackets !== undefined) return imp.limitPackets;
  const rateKbit = imp.rateKbit ?? ASSUMED_LINE_RATE_KBIT;
  const slotMs = imp.slot ? (imp.slot.maxDelayMs ?? imp.slot.minDelayMs) : 0;
  const holdMs = (imp.delayMs ?? 0) + JITTER_TAIL_FACTOR * (imp.jitterMs ?? 0) + slotMs + QUEUE_ALLOWANCE_MS;
  const packets = Math.ceil((HEADROOM * rateKbit * 1000 * (holdMs / 1000)) / (8 * MTU_BYTES));
  return Math.max(DEFAULT_LIMIT_PACKETS, packets);
}
