/**
 * STAMP Session-Sender over UDP: isochronous probes to one reflector, replies fed to the stats engine.
 *
 *   runSchedule ──send(seq)──> [T1 = ntp(mono)] ──udp──> reflector
 *   socket 'message' ──> T4 = mono (first thing) ──> decode ──> stats.reply(seq, T4, T3-T2, Seq_R)
 *
 * RTT = (T4 - T1) - (T3 - T2): T1, T4 from our monotonic clock, the reflector dwell T3 - T2 from its
 * own clock (only the difference is used, so the clocks need not agree). The socket is connected to
 * the target, so the kernel drops datagrams from any other source. Sequence numbers on the wire are
 * u32 and extended back to 53 bits on receipt (relative to the highest sent).
 *
 * Errors never stop the schedule: send errors and ICMP-induced socket errors (e.g. ECONNREFUSED
 * when nothing listens) are counted in `sendErrors`; the probe then times out as lost.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { BackhaulError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { ProbeStats } from './stats/engine.js';
import type { Timestamper } from './timestamps.js';
import type { OneWayDelay } from './stats/one-way.js';
import { decodeErrorEstimate, decodeReflectedPacket, ntpDiffNs, writeSenderHeader } from './wire.js';

export interface UdpTransportConfig {
  host: string;
  port: number;
  sizeBytes: number;
  ssid: number;
  /** Pass the reflector's Seq to the stats (stateful reflector: per-direction loss). */
  directional: boolean;
  /** Local bind address (optional). */
  bindHost?: string;
}

export interface TransportCounters {
  sendErrors: number;
  badReplies: number;
}

export interface ProbeTransport {
  /** Send probe `seq` (intended time session-relative ns); returns the actual send time (mono ns). */
  send(seq: number, intendedRelNs: number): bigint;
  counters(): TransportCounters;
  close(): Promise<void>;
}

export interface UdpTransportDeps {
  clock: Clock;
  stats: ProbeStats;
  timestamper: Timestamper;
  originNs: bigint;
  /** A socket to use instead of creating one (tests); it is connected and closed by the transport. */
  socket?: dgram.Socket;
  /** Collect one-way delays (only when this host's clock is declared synchronised). */
  oneWay?: OneWayDelay;
}

export async function openUdpTransport(cfg: UdpTransportConfig, deps: UdpTransportDeps): Promise<ProbeTransport> {
  const { clock, stats, timestamper: ts, originNs } = deps;
  const family = cfg.host.includes(':') ? 'udp6' : 'udp4';
  const socket = deps.socket ?? dgram.createSocket({ type: family });
  const c: TransportCounters = { sendErrors: 0, badReplies: 0 };
  const template = Buffer.alloc(cfg.sizeBytes);
  let highestSent = -1;

  socket.on('message', (msg) => {
    const arrival = clock.monoNs();
    const r = decodeReflectedPacket(msg);
    if (!r.ok) {
      c.badReplies += 1;
      return;
    }
    // Extend the u32 sender seq relative to the highest sent (wraps after 2^32 probes).
    const low = highestSent >>> 0;
    const back = (low - r.value.senderSeq) >>> 0;
    const seq = highestSent - back;
    const dwell = Number(ntpDiffNs(r.value.t3, r.value.t2));
    const kind = stats.reply(seq, Number(arrival - originNs), dwell, cfg.directional ? r.value.seq : undefined);
    if (kind === 'received' && deps.oneWay) {
      const theirs = decodeErrorEstimate(r.value.errorEstimate);
      if (!theirs.synchronized || !theirs.valid) deps.oneWay.unsynchronized += 1;
      else {
        const t4 = ts.ntpAt(arrival);
        deps.oneWay.add(Number(ntpDiffNs(r.value.t2, r.value.t1)), Number(ntpDiffNs(t4, r.value.t3)), theirs.errorNs + decodeErrorEstimate(ts.errorEstimate).errorNs);
      }
    }
  });
  socket.on('error', () => {
    c.sendErrors += 1;
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new BackhaulError('ERR_UNREACHABLE', `cannot reach ${cfg.host}:${cfg.port}: ${e.message}`, {}, { cause: e }));
    socket.once('error', onError);
    const connect = (): void =>
      socket.connect(cfg.port, cfg.host, () => {
        socket.off('error', onError);
        resolve();
      });
    if (cfg.bindHost) socket.bind({ address: cfg.bindHost, port: 0 }, connect);
    else connect();
  });

  return {
    send(seq, _intendedRelNs) {
      const buf = Buffer.from(template); // a fresh buffer: the kernel may still hold the previous one
      const now = clock.monoNs();
      writeSenderHeader(buf, { seq: seq >>> 0, t1: ts.ntpAt(now), errorEstimate: ts.errorEstimate, ssid: cfg.ssid });
      highestSent = seq;
      stats.sent(seq, _intendedRelNs, Number(now - originNs));
      try {
        socket.send(buf, (err) => {
          if (err) c.sendErrors += 1;
        });
      } catch {
        c.sendErrors += 1;
      }
      return now;
    },
    counters: () => ({ ...c }),
    close: () =>
      new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      }),
  };
}

/**
 * Kernel UDP receive-buffer drops so far in this network namespace (Udp: RcvbufErrors in
 * /proc/net/snmp plus Udp6RcvbufErrors in /proc/net/snmp6); null where not readable (non-Linux).
 * System-wide for the namespace: other sockets' drops count too, so it is reported beside loss,
 * never subtracted from it.
 */
export function readRcvbufErrors(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | null {
  try {
    const snmp = read('/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = snmp[0]?.split(/\s+/) ?? [];
    const values = snmp[1]?.split(/\s+/) ?? [];
    const i = names.indexOf('RcvbufErrors');
    if (i < 0 || values[i] === undefined) return null;
    let total = Number(values[i]);
    try {
      const m = /^Udp6RcvbufErrors\s+(\d+)/m.exec(read('/proc/net/snmp6'));
      if (m) total += Number(m[1]);
    } catch {
      /* no IPv6 */
    }
    return Number.isFinite(total) ? total : null;
  } catch {
    return null;
  }
}
