/**
 * netem `corrupt`: flip one random bit of the packet. The kernel picks a byte of the linear
 * header area (which includes the IP header); the relay only sees the UDP payload, so it flips a bit
 * of the payload (an empty datagram is passed unchanged). The caller owns the buffer.
 */
import type { Random } from '../../../core/random.js';

/** Flip one bit of `buf` in place; returns the byte index flipped, or -1 for an empty buffer. */
export function flipRandomBit(buf: Uint8Array, rng: Random): number {
  if (buf.length === 0) return -1;
  const i = Math.floor((rng.nextU32() * buf.length) / 4294967296);
  const bit = Math.floor((rng.nextU32() * 8) / 4294967296);
  buf[i] = (buf[i] ?? 0) ^ (1 << bit);
  return i;
}
