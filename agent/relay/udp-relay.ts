/**
 * The UDP relay: datagrams from clients to `listen` go to `upstream` through the egress netem
 * engine; replies come back through the ingress engine.
 *
 *   client A --\                      egress pipe (one queue, like one link)      /--> upstream
 *   client B ---> listen socket --> [dup/loss/corrupt/limit/reorder/delay/rate/slot] -> flow socket A|B
 *                      ^                                                                   |
 *                      +---------- ingress pipe (one queue) <------------------------------+
 *
 * Each client (address, port) gets its own flow: an ephemeral socket towards the upstream, so
 * replies find their client. A flow idle (no datagram either way) for `idleTimeoutMs` is closed.
 * At most `maxFlows` flows; datagrams from further clients are dropped (cause `flow-limit`).
 * Both directions share one engine each (rate, queue limit and loss state belong to the link,
 * as with netem on an interface), so flows compete for the configured rate.
 *
 * Lifecycle: `startUdpRelay` resolves once the listen socket is bound (port 0 picks one; see
 * `address`); `stop()` closes every socket, drops what is queued (counted as `stopped`) and is
 * idempotent. Phase changes (`setImpairments`) apply to datagrams arriving from then on.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { BackhaulError } from '../../core/errors.js';
import type { Direction, Impairment } from '../../core/profile.js';
import { seededRandom } from '../../core/random.js';
import type { EnginePacket } from './netem-engine.js';
import { RelayStats } from './metrics.js';
import { checkUdpImpairment, formatHostPort, parseHostPort, type HostPort } from './plan.js';
import { ReleasePipe } from './release-pipe.js';
import type { TransportRelayDeps, TransportRelayHandle } from './transport.js';

export interface UdpRelayOptions {
  listen: string;
  upstream: string;
  egress: Impairment;
  ingress: Impairment;
  /** Metrics label; default `udp:<listen>`. */
  name?: string;
  idleTimeoutMs?: number;
  maxFlows?: number;
  /** Kernel receive/send buffer per socket (bytes, capped by net.core.rmem_max/wmem_max);
   *  default 4 MiB, so an event-loop stall of tens of ms does not overflow the socket. */
  socketBufferBytes?: number;
}

export type UdpRelayDeps = TransportRelayDeps;

export interface UdpRelayHandle extends TransportRelayHandle {
  readonly proto: 'udp';
}

interface Flow {
  key: string;
  client: { address: string; port: number };
  sock: Socket;
  lastActiveMs: number;
  closed: boolean;
}

const IP_UDP_HEADER = { 4: 28, 6: 48 } as const;
/** netem on an Ethernet device counts the 14-byte MAC header too (skb->len at the qdisc). */
const ETH_HEADER = 14;

/** Best effort: the kernel caps the size at rmem_max / wmem_max, and some platforms refuse. */
export function growBuffers(sock: Socket, bytes: number): void {
  try {
    sock.setRecvBufferSize(bytes);
    sock.setSendBufferSize(bytes);
  } catch {
    /* keep the default */
  }
}

function bindSocket(sock: Socket, hp: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onErr = (e: Error): void => reject(e);
    sock.once('error', onErr);
    sock.bind(hp.port, hp.host, () => {
      sock.off('error', onErr);
      resolve();
    });
  });
}

/** Start a UDP relay. Rejects with ERR_USAGE when the listen address cannot be bound. */
export async function startUdpRelay(opts: UdpRelayOptions, deps: UdpRelayDeps): Promise<UdpRelayHandle> {
  checkUdpImpairment(opts.egress, 'egress');
  checkUdpImpairment(opts.ingress, 'ingress');
  const listenHp = parseHostPort(opts.listen, '--listen', true);
  const upstreamHp = parseHostPort(opts.upstream, '--upstream');
  let upstreamAddr = upstreamHp.host;
  if (isIP(upstreamAddr) === 0) {
    try {
      upstreamAddr = (await lookup(upstreamAddr)).address;
    } catch (e) {
      throw new BackhaulError('ERR_UNREACHABLE', `--upstream: cannot resolve '${upstreamHp.host}'`, { host: upstreamHp.host }, { cause: e });
    }
  }
  const family = isIP(listenHp.host) === 6 ? 6 : 4;
  const upFamily = isIP(upstreamAddr) === 6 ? 6 : 4;
  const headerBytes = IP_UDP_HEADER[upFamily] + ETH_HEADER;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  const maxFlows = opts.maxFlows ?? 4096;
  const { clock } = deps;

  const listenSock = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  try {
    await bindSocket(listenSock, listenHp);
  } catch (e) {
    listenSock.close();
    const code = (e as NodeJS.ErrnoException).code;
    throw new BackhaulError('ERR_USAGE', `--listen: cannot bind UDP ${opts.listen}: ${code ?? String(e)}`, { listen: opts.listen, code }, { cause: e });
  }
  const bufferBytes = opts.socketBufferBytes ?? 4 * 1024 * 1024;
  growBuffers(listenSock, bufferBytes);
  const bound = listenSock.address();
  const listen: HostPort = { host: bound.address, port: bound.port };
  const name = opts.name ?? `udp:${formatHostPort(listen)}`;

  const flows = new Map<string, Flow>();
  let stopped = false;
  const pipes: Partial<Record<Direction, ReleasePipe<Flow>>> = {};
  const stats = new RelayStats(name, deps.registry, {
    depth: (d) => pipes[d]?.depth ?? 0,
    flows: () => flows.size,
  });
  const egEv = stats.events('egress');
  const inEv = stats.events('ingress');

  const egRandom = seededRandom(deps.random.nextU32());
  const inDrawn = seededRandom(deps.random.nextU32());
  const inRandom = deps.ingressRandom ?? inDrawn;
  const egress = new ReleasePipe<Flow>(opts.egress, {
    clock,
    waiter: deps.createWaiter(),
    random: egRandom,
    events: egEv,
    send: (p: EnginePacket<Flow>) => {
      const f = p.meta;
      if (f.closed) {
        egEv.dropped('stopped', p.data.length);
        return;
      }
      f.sock.send(p.data, upstreamHp.port, upstreamAddr, (err) => {
        if (err) egEv.dropped('send-error', p.data.length);
      });
    },
  });
  const ingress = new ReleasePipe<Flow>(opts.ingress, {
    clock,
    waiter: deps.createWaiter(),
    random: inRandom,
    events: inEv,
    send: (p: EnginePacket<Flow>) => {
      if (stopped) return;
      listenSock.send(p.data, p.meta.client.port, p.meta.client.address, (err) => {
        if (err) inEv.dropped('send-error', p.data.length);
      });
    },
  });
  pipes.egress = egress;
  pipes.ingress = ingress;

  const closeFlow = (f: Flow): void => {
    if (f.closed) return;
    f.closed = true;
    flows.delete(f.key);
    f.sock.close();
  };

  const openFlow = (rinfo: RemoteInfo): Flow | null => {
    if (flows.size >= maxFlows) return null;
    const sock = createSocket({ type: upFamily === 6 ? 'udp6' : 'udp4' });
    const flow: Flow = {
      key: `${rinfo.address}|${rinfo.port}`,
      client: { address: rinfo.address, port: rinfo.port },
      sock,
      lastActiveMs: clock.wallMs(),
      closed: false,
    };
    sock.on('message', (data, from) => {
      if (from.port !== upstreamHp.port || from.address !== upstreamAddr) return; // not our upstream
      flow.lastActiveMs = clock.wallMs();
      ingress.push({ data, wireLen: data.length + headerBytes, meta: flow });
    });
    sock.on('error', () => closeFlow(flow));
    // Unbound sockets bind to an ephemeral port on first send; bind explicitly so replies are
    // accepted from the first datagram on.
    sock.bind(0, upFamily === 6 ? '::' : '0.0.0.0', () => growBuffers(sock, bufferBytes));
    flows.set(flow.key, flow);
    return flow;
  };

  listenSock.on('message', (data, rinfo) => {
    const key = `${rinfo.address}|${rinfo.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const f = openFlow(rinfo);
      if (!f) {
        egEv.arrived(data.length);
        egEv.dropped('flow-limit', data.length);
        return;
      }
      flow = f;
    }
    flow.lastActiveMs = clock.wallMs();
    egress.push({ data, wireLen: data.length + headerBytes, meta: flow });
  });
  listenSock.on('error', () => {
    /* per-datagram errors (ICMP unreachable on send) are counted as send-error by the callbacks */
  });

  const sweep = setInterval(() => {
    const now = clock.wallMs();
    for (const f of [...flows.values()]) if (now - f.lastActiveMs > idleTimeoutMs) closeFlow(f);
  }, Math.max(10, Math.min(idleTimeoutMs / 4, 5000)));
  sweep.unref();

  return {
    proto: 'udp',
    listen,
    upstream: upstreamHp,
    setImpairments(eg, ing) {
      checkUdpImpairment(eg, 'egress');
      checkUdpImpairment(ing, 'ingress');
      egress.configure(eg);
      ingress.configure(ing);
    },
    impairments: () => ({ egress: egress.impairment, ingress: ingress.impairment }),
    stats: () => stats.snapshot(),
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweep);
      egress.stop();
      ingress.stop();
      for (const f of [...flows.values()]) closeFlow(f);
      stats.close();
      await new Promise<void>((resolve) => listenSock.close(() => resolve()));
    },
  };
}
