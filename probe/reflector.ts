/**
 * STAMP Session-Reflector (RFC 8762 §4.3), unauthenticated; also answers TWAMP-Light senders.
 *
 *   datagram ──> size/allow/rate checks ──> decode (>= 14 octets) ──> build reply ──> T3 ──> send
 *                       │ dropped{reason}          │ malformed{reason}                   │ dropped{send-error}
 *
 * Guarantees:
 *  - The reply is never larger than the request, except that a request shorter than 44 octets gets
 *    exactly the 44-octet base packet (RFC 8762 §4.3 short-packet rule). Requests over
 *    `maxPacketBytes` are dropped. So amplification is at most 44/14.
 *  - Stateless: reply Seq = the sender's Seq. Stateful: its own counter per session (source
 *    address, port and SSID), from 0, which gives the sender per-direction loss.
 *  - Ses-Sender TTL (octet 40) is 0: Node's dgram exposes no IP_RECVTTL ancillary data, so the
 *    received TTL is unsupported rather than invented.
 *  - Any datagram and any send error is counted and ignored; the reflector never throws after start.
 *  - Constant memory: at most `maxSources` rate-limit buckets and `maxSessions` stateful sessions,
 *    least-recently-used evicted (idle sessions expire after `sessionIdleMs`).
 *
 * Binding a port below 1024 (the default 862) needs root or CAP_NET_BIND_SERVICE; an unprivileged
 * reflector can listen on e.g. 8862 (`--listen 0.0.0.0:8862`).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { BackhaulError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createTimestamper, type Timestamper, type TimestamperOptions } from './timestamps.js';
import { decodeSenderPacket, encodeReflectedPacket, MAX_UDP_PAYLOAD_BYTES, writeT3 } from './wire.js';

export const DEFAULT_STAMP_PORT = 862;
/**
 * Default per-source token bucket. A sender faster than this (e.g. a probe at < 0.5 ms intervals)
 * has its excess dropped by the reflector, counted as dropped{reason="rate-limited"}: the sender
 * sees it as forward loss.
 */
export const DEFAULT_REFLECTOR_RATE_PPS = 2000;
export const DEFAULT_REFLECTOR_BURST = 200;

export interface ReflectorConfig {
  host?: string;
  port?: number;
  stateful?: boolean;
  /** Largest request answered (octets); default 9000. */
  maxPacketBytes?: number;
  /** Source prefixes allowed (CIDR or address); empty/undefined = everyone. */
  allow?: string[];
  /** Per-source token bucket: packets per second (default 2000) and burst (default 200). 0 = unlimited. */
  ratePps?: number;
  burst?: number;
  maxSources?: number;
  maxSessions?: number;
  sessionIdleMs?: number;
  clockSync?: TimestamperOptions;
}

export interface ReflectorDeps {
  clock?: Clock;
  /** For tests: the socket to use (already created, not bound). */
  socket?: dgram.Socket;
}

export type DropReason = 'too-large' | 'not-allowed' | 'rate-limited' | 'send-error';
export type MalformedReason = 'too-short';

export interface ReflectorStats {
  received: number;
  reflected: number;
  malformed: Record<MalformedReason, number>;
  dropped: Record<DropReason, number>;
  sessions: number;
  sources: number;
  /** Largest reply sent relative to its request (octets over; 0 or the short-packet padding). */
  maxReplyOverRequestBytes: number;
}

export interface Reflector {
  readonly address: { address: string; port: number; family: string };
  stats(): ReflectorStats;
  /** Idempotent. */
  close(): Promise<void>;
  /** The datagram handler, exposed for tests and in-process feeding. */
  handle(msg: Buffer, rinfo: { address: string; port: number; family?: string }): void;
}

interface Bucket {
  tokens: number;
  lastNs: bigint;
}

/** Parse `ADDR:PORT`, `[v6]:PORT`, `:PORT` or `PORT` (validated at the CLI edge). */
export function parseListen(s: string): { host: string; port: number } {
  const bad = (): BackhaulError =>
    new BackhaulError('ERR_USAGE', `--listen must be ADDR:PORT, [IPv6]:PORT or PORT (got "${s}")`, { hint: 'e.g. --listen 0.0.0.0:8862' });
  let host = '0.0.0.0';
  let portStr: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  const v4 = /^([^:[\]]*):(\d+)$/.exec(s);
  if (v6) {
    host = v6[1] as string;
    portStr = v6[2] as string;
    if (!net.isIPv6(host)) throw bad();
  } else if (v4) {
    host = (v4[1] as string) || '0.0.0.0';
    portStr = v4[2] as string;
    if (!net.isIPv4(host)) throw bad();
  } else if (/^\d+$/.test(s)) {
    portStr = s;
  } else {
    throw bad();
  }
  const port = Number(portStr);
  if (!Number.isInteger(port) || port > 65535) throw bad();
  return { host, port };
}

function buildAllowList(allow: string[] | undefined): net.BlockList | undefined {
  if (!allow || allow.length === 0) return undefined;
  const bl = new net.BlockList();
  for (const entry of allow) {
    const [addr, lenStr] = entry.split('/');
    const type = net.isIPv6(addr ?? '') ? 'ipv6' : net.isIPv4(addr ?? '') ? 'ipv4' : undefined;
    const len = lenStr === undefined ? (type === 'ipv6' ? 128 : 32) : Number(lenStr);
    if (!type || !Number.isInteger(len) || len < 0 || len > (type === 'ipv6' ? 128 : 32)) {
      throw new BackhaulError('ERR_USAGE', `allow-list entry "${entry}" is not an address or CIDR prefix`);
    }
    bl.addSubnet(addr as string, len, type);
  }
  return bl;
}

function allowed(bl: net.BlockList | undefined, address: string): boolean {
  if (!bl) return true;
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4mapped) return bl.check(v4mapped[1] as string, 'ipv4') || bl.check(address, 'ipv6');
  return bl.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}

export async function startReflector(cfg: ReflectorConfig = {}, deps: ReflectorDeps = {}): Promise<Reflector> {
  const clock = deps.clock ?? systemClock;
  const maxPacketBytes = cfg.maxPacketBytes ?? 9000;
  if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 14 || maxPacketBytes > MAX_UDP_PAYLOAD_BYTES) {
    throw new BackhaulError('ERR_USAGE', `max packet size must be 14..${MAX_UDP_PAYLOAD_BYTES} octets (got ${maxPacketBytes})`);
  }
  const ratePps = cfg.ratePps ?? DEFAULT_REFLECTOR_RATE_PPS;
  const burst = cfg.burst ?? DEFAULT_REFLECTOR_BURST;
  const maxSources = cfg.maxSources ?? 10_000;
  const maxSessions = cfg.maxSessions ?? 10_000;
  const idleNs = BigInt(Math.round((cfg.sessionIdleMs ?? 60_000) * 1e6));
  const allowList = buildAllowList(cfg.allow);
  const ts: Timestamper = createTimestamper(clock, cfg.clockSync);
  const buckets = new Map<string, Bucket>();
  const sessions = new Map<string, { next: number; lastNs: bigint }>();
  const s: ReflectorStats = {
    received: 0, reflected: 0, malformed: { 'too-short': 0 },
    dropped: { 'too-large': 0, 'not-allowed': 0, 'rate-limited': 0, 'send-error': 0 },
    sessions: 0, sources: 0, maxReplyOverRequestBytes: 0,
  };

  const socket = deps.socket ?? dgram.createSocket({ type: net.isIPv6(cfg.host ?? '') ? 'udp6' : 'udp4' });
  let closed = false;

  const rateOk = (address: string, nowNs: bigint): boolean => {
    if (ratePps <= 0) return true;
    let b = buckets.get(address);
    if (b) {
      buckets.delete(address); // re-insert: Map order = LRU order
      b.tokens = Math.min(burst, b.tokens + (Number(nowNs - b.lastNs) / 1e9) * ratePps);
      b.lastNs = nowNs;
    } else {
      b = { tokens: burst, lastNs: nowNs };
      if (buckets.size >= maxSources) buckets.delete(buckets.keys().next().value as string);
    }
    buckets.set(address, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };

  const nextSeq = (key: string, nowNs: bigint): number => {
    let st = sessions.get(key);
    if (st && nowNs - st.lastNs > idleNs) st = undefined;
    if (st) sessions.delete(key);
    else {
      st = { next: 0, lastNs: nowNs };
      if (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value as string);
    }
    st.lastNs = nowNs;
    sessions.set(key, st);
    const seq = st.next;
    st.next = (st.next + 1) >>> 0;
    return seq;
  };

  function handle(msg: Buffer, rinfo: { address: string; port: number }): void {
    const t2Mono = clock.monoNs();
    s.received += 1;
    try {
      if (msg.length > maxPacketBytes) {
        s.dropped['too-large'] += 1;
        return;
      }
      if (!allowed(allowList, rinfo.address)) {
        s.dropped['not-allowed'] += 1;
        return;
      }
      const req = decodeSenderPacket(msg);
      if (!req.ok) {
        s.malformed['too-short'] += 1;
        return;
      }
      if (!rateOk(rinfo.address, t2Mono)) {
        s.dropped['rate-limited'] += 1;
        return;
      }
      const seq = cfg.stateful ? nextSeq(`${rinfo.address}|${rinfo.port}|${req.value.ssid}`, t2Mono) : req.value.seq;
      const reply = encodeReflectedPacket(msg, { seq, t3: 0n, errorEstimate: ts.errorEstimate, t2: ts.ntpAt(t2Mono), senderTtl: 0 });
      const over = reply.length - msg.length;
      if (over > s.maxReplyOverRequestBytes) s.maxReplyOverRequestBytes = over;
      writeT3(reply, ts.ntpAt(clock.monoNs()));
      socket.send(reply, rinfo.port, rinfo.address, (err) => {
        if (err) s.dropped['send-error'] += 1;
        else s.reflected += 1;
      });
    } catch {
      // Synchronous send errors (port 0, bad address for the socket family, closed socket).
      s.dropped['send-error'] += 1;
    }
  }

  socket.on('message', handle);

  {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        socket.off('listening', onListening);
        const port = cfg.port ?? DEFAULT_STAMP_PORT;
        if (e.code === 'EACCES' && port < 1024) {
          reject(new BackhaulError('ERR_PERMISSION', `binding UDP port ${port} needs root or CAP_NET_BIND_SERVICE`, { hint: 'run as root, grant the capability (setcap cap_net_bind_service=+ep $(command -v node)), or use an unprivileged port: --listen 0.0.0.0:8862' }, { cause: e }));
        } else if (e.code === 'EADDRINUSE') {
          reject(new BackhaulError('ERR_USAGE', `UDP port ${port} on ${cfg.host ?? '0.0.0.0'} is already in use`, { hint: 'pick another port with --listen' }, { cause: e }));
        } else {
          reject(new BackhaulError('ERR_USAGE', `cannot listen on ${cfg.host ?? '0.0.0.0'}:${port}: ${e.message}`, {}, { cause: e }));
        }
      };
      const onListening = (): void => {
        socket.off('error', onError);
        resolve();
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind({ port: cfg.port ?? DEFAULT_STAMP_PORT, address: cfg.host ?? '0.0.0.0', exclusive: true });
    });
  }
  socket.on('error', () => {
    // Asynchronous socket errors (ICMP-induced, etc.) are counted; they never crash the reflector.
    s.dropped['send-error'] += 1;
  });
  const a = socket.address();

  return {
    address: { address: a.address, port: a.port, family: a.family },
    handle,
    stats: () => ({
      ...s,
      malformed: { ...s.malformed },
      dropped: { ...s.dropped },
      sessions: sessions.size,
      sources: buckets.size,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        try {
          socket.close(() => resolve());
        } catch {
          resolve();
        }
      }),
  };
}
