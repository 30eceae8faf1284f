/**
 * The library API for probe sessions (used by the CLI, the agent and campaigns).
 *
 *   const s = await startProbeSession({ target: '10.0.0.2:862', intervalMs: 10, durationMs: 60_000 });
 *   s.on('outage', (w) => ...); s.on('snapshot', (summary) => ...);   // off the send path
 *   const summary = await s.done;            // or: await s.stop()
 *
 * Targets: `HOST[:PORT]` (STAMP over UDP, default port 862; IPv6 as `[addr]:port`),
 * `tcp://host:port` (connect time), `http://...` / `https://...` (time to first byte).
 *
 * Contract: `startProbeSession` validates the config (BackhaulError ERR_USAGE naming the field),
 * resolves the host once, opens the socket and starts the schedule before it resolves. `stop()` is
 * idempotent: it ends the send phase, waits at most one timeout for outstanding replies, closes the
 * socket and resolves with the final summary (the same as `done`). Snapshot events are emitted from
 * a separate timer every `snapshotIntervalMs` (default 1000), never from the send/receive path;
 * listeners must not throw (errors are swallowed and counted in `listenerErrors`).
 */
import { EventEmitter } from 'node:events';
import { lookup as dnsLookup } from 'node:dns/promises';
import net from 'node:net';
import { BackhaulError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { randomSeed, seededRandom, type Random } from '../core/random.js';
import type dgram from 'node:dgram';
import { openHttpTransport, openTcpTransport } from './connect-probes.js';
import { drainReplies, runSchedule } from './schedule.js';
import { openUdpTransport, readRcvbufErrors, type ProbeTransport } from './sender.js';
import { ProbeStats } from './stats/engine.js';
import type { OutageWindow } from './stats/outage.js';
import { OneWayDelay } from './stats/one-way.js';
import { buildSummary, type ProbeSummary } from './stats/summary.js';
import { createTimestamper, type TimestamperOptions } from './timestamps.js';
import { createWaiter, DEFAULT_TIMER_MODE, isTimerMode, type TimerMode, type Waiter } from './timer.js';
import { DEFAULT_STAMP_PORT } from './reflector.js';
import { STAMP_BASE_BYTES, MAX_UDP_PAYLOAD_BYTES } from './wire.js';

export interface ProbeSessionConfig {
  target: string;
  /** Session name: the `probe` label (default: the kind, e.g. "stamp"). */
  name?: string;
  intervalMs?: number;
  /** Run length; omit both durationMs and count to run until stop(). */
  durationMs?: number;
  count?: number;
  /** STAMP packet size in octets (>= 44). */
  sizeBytes?: number;
  timeoutMs?: number;
  timer?: TimerMode;
  outageMinLost?: number;
  /** Declared sequence window; default max(4096, 4 x timeout/interval). */
  windowSize?: number;
  /** The reflector is stateful (per-direction loss). */
  statefulReflector?: boolean;
  ssid?: number;
  clockSync?: TimestamperOptions;
  snapshotIntervalMs?: number;
  /** https: accept any certificate. */
  insecure?: boolean;
  bindHost?: string;
}

export interface ProbeSessionDeps {
  clock?: Clock;
  random?: Random;
  /** UDP socket for STAMP targets (tests). */
  socket?: dgram.Socket;
  waiter?: Waiter;
  readRcvbufErrors?: () => number | null;
  /** Name resolution, called once at start (default: dns.lookup, i.e. getaddrinfo). */
  lookup?: (host: string) => Promise<{ address: string }>;
}

export interface ResolvedTarget {
  kind: 'stamp' | 'tcp' | 'http';
  host: string;
  port: number;
  url?: URL;
  label: string;
}

export interface ProbeSession {
  readonly id: string;
  readonly target: ResolvedTarget;
  readonly name: string;
  readonly done: Promise<ProbeSummary>;
  snapshot(): ProbeSummary;
  /** HdrHistogram V2 compressed base64 of RTT (ns) so far. */
  histogram(): { rtt: string; rttFromIntended: string };
  stop(): Promise<ProbeSummary>;
  on(event: 'outage', fn: (w: OutageWindow) => void): this;
  on(event: 'snapshot', fn: (s: ProbeSummary) => void): this;
  off(event: 'outage' | 'snapshot', fn: (...a: never[]) => void): this;
  /** The live statistics (exporters read it; do not mutate). */
  readonly stats: ProbeStats;
  readonly listenerErrors: number;
}

let sessionCounter = 0;

/** Parse a probe target (validated at the edge). */
export function parseTarget(s: string): ResolvedTarget {
  const bad = (why: string): BackhaulError =>
    new BackhaulError('ERR_USAGE', `probe target "${s}": ${why}`, { hint: 'use HOST[:PORT] (STAMP/UDP), [IPv6]:PORT, tcp://HOST:PORT or http(s)://URL' });
  if (/^https?:\/\//i.test(s)) {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      throw bad('not a valid URL');
    }
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { kind: 'http', host: url.hostname.replace(/^\[|\]$/g, ''), port, url, label: url.origin + url.pathname };
  }
  let kind: 'stamp' | 'tcp' = 'stamp';
  let rest = s;
  if (/^tcp:\/\//i.test(s)) {
    kind = 'tcp';
    rest = s.slice(6);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw bad('unknown scheme (supported: tcp://, http://, https://, or none for STAMP)');
  }
  let host: string;
  let portStr: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) [, host = '', portStr] = v6;
  else if (net.isIPv6(rest)) host = rest;
  else {
    const m = /^([^:\s/]+)(?::(\d+))?$/.exec(rest);
    if (!m) throw bad('expected HOST[:PORT]');
    [, host = '', portStr] = m;
  }
  if (kind === 'tcp' && portStr === undefined) throw bad('tcp:// needs a port');
  const port = portStr === undefined ? DEFAULT_STAMP_PORT : Number(portStr);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port must be 1..65535 (got ${portStr})`);
  const label = `${kind === 'tcp' ? 'tcp://' : ''}${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { kind, host, port, label };
}

function positive(name: string, v: number | undefined, dflt: number, min = 0): number {
  const x = v ?? dflt;
  if (!Number.isFinite(x) || x <= min) throw new BackhaulError('ERR_USAGE', `${name} must be a number > ${min} (got ${String(v)})`);
  return x;
}

export async function startProbeSession(cfg: ProbeSessionConfig, deps: ProbeSessionDeps = {}): Promise<ProbeSession> {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? seededRandom(randomSeed());
  const target = parseTarget(cfg.target);
  const intervalMs = positive('interval', cfg.intervalMs, 10, 0);
  if (intervalMs < 0.01) throw new BackhaulError('ERR_USAGE', `interval must be >= 10us (got ${intervalMs} ms)`);
  const timeoutMs = positive('timeout', cfg.timeoutMs, 1000, 0);
  if (cfg.durationMs !== undefined) positive('duration', cfg.durationMs, 1, 0);
  if (cfg.count !== undefined && (!Number.isInteger(cfg.count) || cfg.count < 1)) throw new BackhaulError('ERR_USAGE', `count must be an integer >= 1 (got ${cfg.count})`);
  const sizeBytes = cfg.sizeBytes ?? STAMP_BASE_BYTES;
  if (!Number.isInteger(sizeBytes) || sizeBytes < STAMP_BASE_BYTES || sizeBytes > MAX_UDP_PAYLOAD_BYTES) {
    throw new BackhaulError('ERR_USAGE', `size must be ${STAMP_BASE_BYTES}..${MAX_UDP_PAYLOAD_BYTES} octets (got ${sizeBytes})`);
  }
  const timer = cfg.timer ?? DEFAULT_TIMER_MODE;
  if (!isTimerMode(timer)) throw new BackhaulError('ERR_USAGE', `timer must be sleep, hybrid or busy (got ${String(timer)})`);
  const outageMinLost = cfg.outageMinLost ?? 3;
  if (!Number.isInteger(outageMinLost) || outageMinLost < 1) throw new BackhaulError('ERR_USAGE', `outage threshold must be an integer >= 1 (got ${outageMinLost})`);
  const minWindow = Math.ceil(timeoutMs / intervalMs) + 2;
  const windowSize = cfg.windowSize ?? Math.max(4096, 4 * minWindow);
  if (!Number.isInteger(windowSize) || windowSize < minWindow || windowSize > 16_777_216) {
    throw new BackhaulError('ERR_USAGE', `sequence window must be ${minWindow}..16777216 for this timeout/interval (got ${windowSize})`);
  }
  const ssid = cfg.ssid ?? (random.nextU32() % 0xffff) + 1;

  let address = target.host;
  if (net.isIP(address) === 0) {
    try {
      address = (await (deps.lookup ?? dnsLookup)(target.host)).address;
    } catch (e) {
      throw new BackhaulError('ERR_UNREACHABLE', `cannot resolve ${target.host}`, {}, { cause: e });
    }
  }

  const id = `probe-${process.pid.toString(36)}-${(++sessionCounter).toString(36)}`;
  const name = cfg.name ?? target.kind;
  const emitter = new EventEmitter();
  let listenerErrors = 0;
  const safeEmit = (event: string, arg: unknown): void => {
    for (const fn of emitter.listeners(event)) {
      try {
        (fn as (a: unknown) => void)(arg);
      } catch {
        listenerErrors += 1;
      }
    }
  };

  const ts = createTimestamper(clock, cfg.clockSync);
  const originNs = clock.monoNs();
  const startedAtMs = Number(ts.unixNsAt(originNs)) / 1e6;
  const intervalNs = BigInt(Math.round(intervalMs * 1e6));
  const timeoutNs = BigInt(Math.round(timeoutMs * 1e6));
  const stats = new ProbeStats({
    intervalNs: Number(intervalNs), timeoutNs: Number(timeoutNs), windowSize, outageMinLost,
    directional: Boolean(cfg.statefulReflector) && target.kind === 'stamp',
    toWallMs: (ns) => startedAtMs + ns / 1e6,
    onOutage: (w) => setImmediate(() => safeEmit('outage', w)),
  });
  const rcvbuf = deps.readRcvbufErrors ?? (() => readRcvbufErrors());
  const rcvbuf0 = target.kind === 'stamp' ? rcvbuf() : null;
  let rcvbufDelta: number | null = null;

  const oneWay = target.kind === 'stamp' && cfg.clockSync?.synchronized ? new OneWayDelay() : undefined;
  let transport: ProbeTransport;
  if (target.kind === 'stamp') {
    transport = await openUdpTransport(
      { host: address, port: target.port, sizeBytes, ssid, directional: Boolean(cfg.statefulReflector), ...(cfg.bindHost ? { bindHost: cfg.bindHost } : {}) },
      { clock, stats, timestamper: ts, originNs, ...(deps.socket ? { socket: deps.socket } : {}), ...(oneWay ? { oneWay } : {}) },
    );
  } else if (target.kind === 'tcp') {
    transport = openTcpTransport({ host: address, port: target.port }, { clock, stats, originNs, timeoutMs });
  } else {
    transport = openHttpTransport(target.url as URL, { clock, stats, originNs, timeoutMs, address, ...(cfg.insecure ? { insecure: true } : {}) });
  }

  const waiter = deps.waiter ?? createWaiter(timer, clock);
  const stopSend = new AbortController();
  let finished = false;
  let endMono: bigint | undefined;

  const summarize = (withHistogram: boolean): ProbeSummary => {
    const now = endMono ?? clock.monoNs();
    if (!finished && rcvbuf0 !== null) {
      const r = rcvbuf();
      rcvbufDelta = r === null ? null : r - rcvbuf0;
    }
    return buildSummary(stats, {
      id, probe: name, kind: target.kind, target: target.label, startedAtMs,
      elapsedMs: Number(now - originNs) / 1e6, intervalMs, timeoutMs,
      sizeBytes: target.kind === 'stamp' ? sizeBytes : null, timer, done: finished, rcvbufErrors: rcvbufDelta,
      oneWay: oneWay ? oneWay.toMs() : null,
    }, withHistogram);
  };

  const snapshotEvery = cfg.snapshotIntervalMs ?? 1000;
  const snapTimer = setInterval(() => {
    if (emitter.listenerCount('snapshot') > 0) safeEmit('snapshot', summarize(false));
  }, snapshotEvery);

  const done = (async (): Promise<ProbeSummary> => {
    try {
      await runSchedule({
        clock, waiter, stats, intervalNs, timeoutNs, originNs, t0Ns: originNs, send: (seq, intended) => transport.send(seq, intended),
        signal: stopSend.signal,
        ...(cfg.count !== undefined ? { count: cfg.count } : {}),
        ...(cfg.durationMs !== undefined ? { durationNs: BigInt(Math.round(cfg.durationMs * 1e6)) } : {}),
      });
      await drainReplies({ clock, stats, timeoutNs, originNs, drain: true });
    } finally {
      clearInterval(snapTimer);
      endMono = clock.monoNs();
      if (rcvbuf0 !== null) {
        const r = rcvbuf();
        rcvbufDelta = r === null ? null : r - rcvbuf0;
      }
      finished = true;
      await transport.close();
    }
    const final = summarize(true);
    safeEmit('snapshot', final);
    return final;
  })();

  const session: ProbeSession = {
    id, target, name, done, stats,
    get listenerErrors() {
      return listenerErrors;
    },
    snapshot: () => summarize(false),
    histogram: () => ({ rtt: stats.rtt.encode(), rttFromIntended: stats.rttIntended.encode() }),
    stop: () => {
      stopSend.abort(new Error('stopped'));
      return done;
    },
    on(event: string, fn: (a: never) => void) {
      emitter.on(event, fn as (...a: unknown[]) => void);
      return session;
    },
    off(event: string, fn: (...a: never[]) => void) {
      emitter.off(event, fn as (...a: unknown[]) => void);
      return session;
    },
  } as ProbeSession;
  return session;
}

/** Alias matching the conventions' name for the UDP sender. */
export const startSender = startProbeSession;
