/**
 * STAMP (RFC 8762) unauthenticated test packets, also understood by TWAMP-Light peers (RFC 5357).
 * All multi-byte fields are big-endian (network order).
 *
 * Session-Sender test packet (RFC 8762 §4.2.1; octets 14-15 are the SSID of RFC 8972 §3):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |   0..3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                          Timestamp T1                         |   4..11 (NTP 32.32)
 *   |                                                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Error Estimate        |             SSID              |  12..15
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                     MBZ (28 octets)                           |  16..43
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 padding / TLVs (optional, zero)               |  44..
 *
 * A TWAMP-Light sender packet is Sequence Number, T1 and Error Estimate (14 octets) plus padding.
 *
 * Session-Reflector test packet (RFC 8762 §4.3.1, RFC 5357 §4.2.1):
 *
 *   offset len field
 *    0      4  Sequence Number          (stateless: the sender's; stateful: the reflector's own, from 0)
 *    4      8  Timestamp T3              (reflector transmit time)
 *   12      2  Error Estimate            (the reflector's clock)
 *   14      2  SSID                      (copied from the sender; MBZ in TWAMP)
 *   16      8  Receive Timestamp T2      (reflector receive time)
 *   24      4  Session-Sender Sequence Number (copied)
 *   28      8  Session-Sender Timestamp T1    (copied)
 *   36      2  Session-Sender Error Estimate  (copied)
 *   38      2  MBZ
 *   40      1  Ses-Sender TTL            (always 0 here: Node's dgram cannot read the received TTL)
 *   41      3  MBZ                       (STAMP base packet = 44 octets)
 *   44    var  copied from the request beyond octet 44 (symmetric size)
 *
 * Error Estimate (RFC 4656 §4.1.2, RFC 8186 §2.3):
 *   bit 15 S (clock synchronised to UTC), bit 14 Z (0 = NTP, 1 = PTPv2 truncated),
 *   bits 13-8 Scale (6 bits), bits 7-0 Multiplier; error = Multiplier * 2^(Scale-32) s; Multiplier 0 invalid.
 *
 * NTP timestamps are a u64: seconds since 1900-01-01 in the high 32 bits, binary fraction in the low 32.
 * Here they travel as one `bigint` (`ntp64`) so encode/decode is exact.
 */

export const STAMP_BASE_BYTES = 44;
/** Smallest sender packet we can reflect: TWAMP-Light's Sequence + T1 + Error Estimate. */
export const TWAMP_LIGHT_MIN_BYTES = 14;
/** Smallest reflected packet we can read: TWAMP's 41-octet base (STAMP's is 44). */
export const REFLECTED_MIN_BYTES = 41;
/** Largest UDP payload over IPv4. */
export const MAX_UDP_PAYLOAD_BYTES = 65507;

/** Seconds between 1900-01-01 (NTP era 0) and 1970-01-01. */
export const NTP_UNIX_OFFSET_S = 2_208_988_800n;
const TWO_32 = 1n << 32n;
const NS_PER_S = 1_000_000_000n;

// ----- timestamps ------------------------------------------------------------------------------

/** Unix nanoseconds -> NTP 64-bit (fraction rounded to nearest; era 0, valid until 2036-02-07). */
export function unixNsToNtp(unixNs: bigint): bigint {
  const total = unixNs + NTP_UNIX_OFFSET_S * NS_PER_S;
  const sec = total / NS_PER_S;
  const remNs = total % NS_PER_S;
  let frac = (remNs * TWO_32 + NS_PER_S / 2n) / NS_PER_S;
  let s = sec;
  if (frac >= TWO_32) {
    frac -= TWO_32;
    s += 1n;
  }
  return ((s & 0xffff_ffffn) << 32n) | frac;
}

/** NTP 64-bit -> Unix nanoseconds (rounded to nearest ns). */
export function ntpToUnixNs(ntp: bigint): bigint {
  const sec = ntp >> 32n;
  const frac = ntp & 0xffff_ffffn;
  return (sec - NTP_UNIX_OFFSET_S) * NS_PER_S + (frac * NS_PER_S + TWO_32 / 2n) / TWO_32;
}

/** Difference a - b of two NTP timestamps in ns (exact to rounding; handles one era wrap). */
export function ntpDiffNs(a: bigint, b: bigint): bigint {
  let d = a - b;
  const half = 1n << 63n;
  if (d >= half) d -= 1n << 64n;
  else if (d < -half) d += 1n << 64n;
  const neg = d < 0n;
  const m = neg ? -d : d;
  const ns = (m * NS_PER_S + TWO_32 / 2n) / TWO_32;
  return neg ? -ns : ns;
}

// ----- error estimate --------------------------------------------------------------------------

export interface ErrorEstimate {
  /** S bit: the clock is synchronised to an external UTC source. */
  synchronized: boolean;
  /** Z bit: false = NTP format timestamps, true = PTPv2 truncated. */
  ptp: boolean;
  scale: number;
  multiplier: number;
}

/**
 * Encode an error bound (ns) as the smallest representable value >= it: picks the smallest Scale
 * that lets the Multiplier (1..255, rounded up) cover the bound, so the estimate never understates.
 */
export function errorEstimateFromNs(errorNs: number, synchronized: boolean, ptp = false): ErrorEstimate {
  const errS = Math.max(errorNs, 1e-3) / 1e9;
  for (let scale = 0; scale < 64; scale++) {
    const unit = 2 ** (scale - 32);
    const m = Math.ceil(errS / unit - 1e-9);
    if (m <= 255) return { synchronized, ptp, scale, multiplier: Math.max(1, m) };
  }
  return { synchronized, ptp, scale: 63, multiplier: 255 };
}

export function encodeErrorEstimate(e: ErrorEstimate): number {
  if (!Number.isInteger(e.scale) || e.scale < 0 || e.scale > 63) throw new RangeError(`error estimate scale must be 0..63 (got ${e.scale})`);
  if (!Number.isInteger(e.multiplier) || e.multiplier < 1 || e.multiplier > 255) {
    throw new RangeError(`error estimate multiplier must be 1..255 (got ${e.multiplier})`);
  }
  return (e.synchronized ? 0x8000 : 0) | (e.ptp ? 0x4000 : 0) | (e.scale << 8) | e.multiplier;
}

export function decodeErrorEstimate(v: number): ErrorEstimate & { errorNs: number; valid: boolean } {
  const scale = (v >> 8) & 0x3f;
  const multiplier = v & 0xff;
  return {
    synchronized: (v & 0x8000) !== 0,
    ptp: (v & 0x4000) !== 0,
    scale,
    multiplier,
    errorNs: multiplier * 2 ** (scale - 32) * 1e9,
    valid: multiplier !== 0,
  };
}

// ----- sender packet ---------------------------------------------------------------------------

export interface SenderPacket {
  seq: number;
  /** T1, NTP 64-bit. */
  t1: bigint;
  errorEstimate: number;
  ssid: number;
}

/** Encode a STAMP sender packet of `sizeBytes` (>= 44; bytes past the header are zero). */
export function encodeSenderPacket(p: SenderPacket, sizeBytes = STAMP_BASE_BYTES): Buffer {
  if (!Number.isInteger(sizeBytes) || sizeBytes < STAMP_BASE_BYTES || sizeBytes > MAX_UDP_PAYLOAD_BYTES) {
    throw new RangeError(`STAMP packet size must be ${STAMP_BASE_BYTES}..${MAX_UDP_PAYLOAD_BYTES} bytes (got ${sizeBytes})`);
  }
  const b = Buffer.alloc(sizeBytes);
  writeSenderHeader(b, p);
  return b;
}

/** Overwrite the header fields of an existing sender packet buffer (reuse one buffer per send). */
export function writeSenderHeader(b: Buffer, p: SenderPacket): void {
  b.writeUInt32BE(p.seq >>> 0, 0);
  b.writeBigUInt64BE(p.t1 & 0xffff_ffff_ffff_ffffn, 4);
  b.writeUInt16BE(p.errorEstimate & 0xffff, 12);
  b.writeUInt16BE(p.ssid & 0xffff, 14);
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Decode what a reflector needs from any STAMP or TWAMP-Light sender packet (>= 14 octets).
 * MBZ octets are ignored on receipt (RFC 8762). The SSID is read only from packets >= 44 octets
 * (a TWAMP-Light packet carries padding there).
 */
export function decodeSenderPacket(b: Uint8Array): Decoded<SenderPacket> {
  if (b.length < TWAMP_LIGHT_MIN_BYTES) return { ok: false, reason: `too short: ${b.length} < ${TWAMP_LIGHT_MIN_BYTES} octets` };
  const v = view(b);
  return {
    ok: true,
    value: {
      seq: v.getUint32(0),
      t1: v.getBigUint64(4),
      errorEstimate: v.getUint16(12),
      ssid: b.length >= STAMP_BASE_BYTES ? v.getUint16(14) : 0,
    },
  };
}

// ----- reflected packet ------------------------------------------------------------------------

export interface ReflectedPacket {
  /** Reflector's sequence number (a copy of senderSeq when the reflector is stateless). */
  seq: number;
  t3: bigint;
  errorEstimate: number;
  ssid: number;
  t2: bigint;
  senderSeq: number;
  t1: bigint;
  senderErrorEstimate: number;
  /** Ses-Sender TTL; 0 = not known (our reflector always sends 0). */
  senderTtl: number;
}

/** Size of the reply to a request of `requestBytes`: symmetric, except short requests get the 44-octet base. */
export function reflectedSize(requestBytes: number): number {
  return requestBytes < STAMP_BASE_BYTES ? STAMP_BASE_BYTES : requestBytes;
}

/**
 * Build the reflected packet for `request` (already validated >= 14 octets). Octets 44.. are copied
 * from the request (symmetric size); MBZ octets are zero. T3 is written here: call it immediately
 * before sending, or patch T3 with `writeT3`.
 */
export function encodeReflectedPacket(request: Uint8Array, p: Omit<ReflectedPacket, 'senderSeq' | 't1' | 'senderErrorEstimate' | 'ssid'>): Buffer {
  const req = decodeSenderPacket(request);
  if (!req.ok) throw new RangeError(req.reason);
  const out = Buffer.alloc(reflectedSize(request.length));
  if (request.length > STAMP_BASE_BYTES) out.set(request.subarray(STAMP_BASE_BYTES), STAMP_BASE_BYTES);
  out.writeUInt32BE(p.seq >>> 0, 0);
  out.writeBigUInt64BE(p.t3, 4);
  out.writeUInt16BE(p.errorEstimate & 0xffff, 12);
  out.writeUInt16BE(req.value.ssid, 14);
  out.writeBigUInt64BE(p.t2, 16);
  out.writeUInt32BE(req.value.seq, 24);
  out.writeBigUInt64BE(req.value.t1, 28);
  out.writeUInt16BE(req.value.errorEstimate, 36);
  out.writeUInt8(p.senderTtl & 0xff, 40);
  return out;
}

/** Patch T3 into a reflected packet built earlier. */
export function writeT3(reply: Buffer, t3: bigint): void {
  reply.writeBigUInt64BE(t3, 4);
}

/** Decode a reflected packet from any STAMP (>= 44) or TWAMP (>= 41) reflector. */
export function decodeReflectedPacket(b: Uint8Array): Decoded<ReflectedPacket> {
  if (b.length < REFLECTED_MIN_BYTES) return { ok: false, reason: `too short for a reflected packet: ${b.length} < ${REFLECTED_MIN_BYTES} octets` };
  const v = view(b);
  return {
    ok: true,
    value: {
      seq: v.getUint32(0),
      t3: v.getBigUint64(4),
      errorEstimate: v.getUint16(12),
      ssid: v.getUint16(14),
      t2: v.getBigUint64(16),
      senderSeq: v.getUint32(24),
      t1: v.getBigUint64(28),
      senderErrorEstimate: v.getUint16(36),
      senderTtl: v.getUint8(40),
    },
  };
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
