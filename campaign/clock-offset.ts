/**
 * Clock offset of a site, estimated from STAMP probe timestamps (NTP's on-wire method):
 *
 *   controller T1 --------> agent T2 (receive)
 *   controller T4 <-------- agent T3 (send)
 *   offset = ((T2 - T1) + (T3 - T4)) / 2      (agent clock minus controller clock)
 *   delay  = (T4 - T1) - (T3 - T2)            uncertainty = delay / 2 + our anchor's uncertainty
 *
 * Several exchanges; the one with the smallest delay wins (least queueing, tightest bound).
 * `offsetFromSamples` is pure; `estimateClockOffset` sends the probes (UDP socket injected or
 * created) and gives up on a probe after `timeoutMs`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { systemClock, type Clock } from '../core/clock.js';
import { createTimestamper } from '../probe/timestamps.js';
import { decodeReflectedPacket, encodeSenderPacket, ntpToUnixNs } from '../probe/wire.js';

export interface OffsetSample {
  /** Unix ns: T1 send, T2 reflector receive, T3 reflector send, T4 receive. */
  t1: bigint;
  t2: bigint;
  t3: bigint;
  t4: bigint;
}

export interface OffsetEstimate {
  offsetMs: number;
  uncertaintyMs: number;
  samples: number;
}

export function offsetFromSamples(samples: readonly OffsetSample[]): OffsetEstimate | null {
  let best: { offsetNs: bigint; delayNs: bigint } | null = null;
  for (const s of samples) {
    const delayNs = s.t4 - s.t1 - (s.t3 - s.t2);
    if (delayNs < 0n) continue; // impossible: a reflector clock that is not monotonic within the exchange
    const offsetNs = (s.t2 - s.t1 + (s.t3 - s.t4)) / 2n;
    if (!best || delayNs < best.delayNs) best = { offsetNs, delayNs };
  }
  if (!best) return null;
  return { offsetMs: Number(best.offsetNs) / 1e6, uncertaintyMs: Number(best.delayNs) / 2e6, samples: samples.length };
}

/** Probe a STAMP reflector `count` times, sequentially; null when no reply came back. */
export async function estimateClockOffset(
  host: string,
  port: number,
  opts: { count?: number; timeoutMs?: number; clock?: Clock; socket?: Socket } = {},
): Promise<OffsetEstimate | null> {
  const clock = opts.clock ?? systemClock;
  const ts = createTimestamper(clock);
  const sock = opts.socket ?? createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
  const samples: OffsetSample[] = [];
  const ssid = (process.pid & 0xffff) ^ 0x5a5a;
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    for (let seq = 0; seq < (opts.count ?? 8); seq++) {
      const t1Mono = clock.monoNs();
      const pkt = encodeSenderPacket({ seq, t1: ts.ntpAt(t1Mono), errorEstimate: ts.errorEstimate, ssid });
      const reply = await new Promise<{ msg: Buffer; at: bigint } | null>((resolve) => {
        const timer = setTimeout(() => {
          sock.off('message', onMsg);
          resolve(null);
        }, opts.timeoutMs ?? 500);
        const onMsg = (msg: Buffer): void => {
          const d = decodeReflectedPacket(msg);
          if (!d.ok || d.value.senderSeq !== seq) return;
          clearTimeout(timer);
          sock.off('message', onMsg);
          resolve({ msg, at: clock.monoNs() });
        };
        sock.on('message', onMsg);
        sock.send(pkt, port, host);
      });
      if (!reply) continue;
      const d = decodeReflectedPacket(reply.msg);
      if (!d.ok) continue;
      samples.push({ t1: ts.unixNsAt(t1Mono), t2: ntpToUnixNs(d.value.t2), t3: ntpToUnixNs(d.value.t3), t4: ts.unixNsAt(reply.at) });
    }
  } finally {
    sock.close();
  }
  const est = offsetFromSamples(samples);
  // Our own timestamps are only as good as their wall-clock anchor: add its uncertainty.
  return est && { ...est, uncertaintyMs: est.uncertaintyMs + ts.anchorUncertaintyNs / 1e6 };
}
