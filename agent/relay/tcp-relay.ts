/**
 * The TCP relay: each connection accepted on `listen` is paired with a connection to `upstream`;
 * bytes flow through one StreamPipe per direction (egress = client -> upstream, ingress = back).
 *
 * Bandwidth is per direction and shared by all connections (like netem's rate on an interface);
 * delay applies to each chunk of each connection.
 *
 * Outage behaviours (a phase whose loss is random 100 %, see plan.ts):
 *   blackhole  data is held in both directions' queues (reading stops when a queue is full);
 *              connections stay open; new connections are accepted but their upstream connect
 *              waits for the outage to end. When it ends, held data is delivered in order.
 *   reset      every open connection is reset on both sides (RST to client and upstream), and new
 *              connections are reset as soon as they are accepted, until the outage ends.
 * An outage in either direction is an outage of the connection for `reset`; for `blackhole` each
 * direction holds its own data.
 *
 * Slow close (`slowCloseMs`): a FIN is passed on that long after the queue ahead of it drained.
 * Errors: a reset or error on one side resets the other side; a refused upstream connect resets
 * the client. `stop()` resets nothing: it closes the listener and destroys open connections.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { BackhaulError } from '../../core/errors.js';
import type { Direction, Impairment } from '../../core/profile.js';
import { seededRandom, type Random } from '../../core/random.js';
import { RelayStats } from './metrics.js';
import { formatHostPort, parseHostPort, planTcpDirection, type HostPort, type TcpDirectionPlan, type TcpOutageMode } from './plan.js';
import { StreamPipe, type SharedLink } from './tcp-stream-pipe.js';
import type { TransportRelayDeps, TransportRelayHandle } from './transport.js';

export interface TcpRelayOptions {
  listen: string;
  upstream: string;
  egress: Impairment;
  ingress: Impairment;
  name?: string;
  /** What a loss-100 % phase does to TCP; default blackhole. */
  outageMode?: TcpOutageMode;
  /** Delay (ms) before a FIN is passed on; default 0. */
  slowCloseMs?: number;
  /** Drop fields TCP cannot express (listed in `ignored()`) instead of refusing the profile. */
  lenient?: boolean;
}

export type TcpRelayDeps = TransportRelayDeps;

export interface TcpRelayHandle extends TransportRelayHandle {
  readonly proto: 'tcp';
  /** Fields dropped under `lenient` and documented TCP re-interpretations, for status output. */
  warnings(): string[];
  /** Whether an outage is in effect now. */
  inOutage(): boolean;
}

interface Conn {
  client: Socket;
  upstream: Socket | null;
  pipes: Partial<Record<Direction, StreamPipe>>;
  closed: boolean;
}

function plans(eg: Impairment, ing: Impairment, lenient: boolean): Record<Direction, TcpDirectionPlan> {
  return { egress: planTcpDirection(eg, 'egress', lenient), ingress: planTcpDirection(ing, 'ingress', lenient) };
}

export async function startTcpRelay(opts: TcpRelayOptions, deps: TcpRelayDeps): Promise<TcpRelayHandle> {
  const lenient = opts.lenient ?? false;
  let current = { egress: opts.egress, ingress: opts.ingress };
  let plan = plans(opts.egress, opts.ingress, lenient);
  const listenHp = parseHostPort(opts.listen, '--listen', true);
  const upstreamHp = parseHostPort(opts.upstream, '--upstream');
  const outageMode = opts.outageMode ?? 'blackhole';
  const slowCloseMs = opts.slowCloseMs ?? 0;
  const conns = new Set<Conn>();
  const egRandom = seededRandom(deps.random.nextU32());
  const inDrawn = seededRandom(deps.random.nextU32());
  const randoms: Record<Direction, Random> = { egress: egRandom, ingress: deps.ingressRandom ?? inDrawn };
  // One link per direction: every connection shares its rate (netem's rate is the interface's).
  const t0 = deps.clock.monoNs();
  const links: Record<Direction, SharedLink> = { egress: { serialEndNs: 0 }, ingress: { serialEndNs: 0 } };
  let stopped = false;

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new BackhaulError('ERR_USAGE', `--listen: cannot listen on TCP ${opts.listen}: ${e.code ?? String(e)}`, { listen: opts.listen, code: e.code }, { cause: e })),
    );
    server.listen(listenHp.port, listenHp.host, () => resolve());
  });
  const addr = server.address();
  const listen: HostPort = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : listenHp;
  const name = opts.name ?? `tcp:${formatHostPort(listen)}`;
  const stats = new RelayStats(name, deps.registry, {
    depth: (d) => {
      let n = 0;
      for (const c of conns) n += c.pipes[d]?.depth ?? 0;
      return n;
    },
    flows: () => conns.size,
  });
  const events = { egress: stats.events('egress'), ingress: stats.events('ingress') };

  const outageNow = (): boolean => plan.egress.outage || plan.ingress.outage;

  const resetConn = (c: Conn): void => {
    if (c.closed) return;
    c.closed = true;
    c.pipes.egress?.destroy();
    c.pipes.ingress?.destroy();
    if (!c.client.destroyed) c.client.resetAndDestroy();
    if (c.upstream && !c.upstream.destroyed) c.upstream.resetAndDestroy();
    conns.delete(c);
  };

  const connectUpstream = (c: Conn): void => {
    const up = connect({ host: upstreamHp.host, port: upstreamHp.port, allowHalfOpen: true, noDelay: true });
    c.upstream = up;
    up.on('error', () => resetConn(c));
    up.once('connect', () => {
      if (c.closed) {
        up.resetAndDestroy();
        return;
      }
      const mk = (d: Direction, src: Socket, dst: Socket): StreamPipe =>
        new StreamPipe(src, dst, plan[d], { clock: deps.clock, t0, link: links[d], waiter: deps.createWaiter(), random: randoms[d], events: events[d], slowCloseMs });
      c.pipes.egress = mk('egress', c.client, up);
      c.pipes.ingress = mk('ingress', up, c.client);
      c.client.resume();
    });
    let closedSides = 0;
    const onClose = (): void => {
      closedSides++;
      if (closedSides === 2 && !c.closed) {
        c.closed = true;
        c.pipes.egress?.destroy();
        c.pipes.ingress?.destroy();
        conns.delete(c);
      }
    };
    up.on('close', onClose);
    c.client.on('close', onClose);
  };

  const pendingConnect: Conn[] = [];

  server.on('connection', (client: Socket) => {
    if (stopped) {
      client.destroy();
      return;
    }
    client.pause();
    const c: Conn = { client, upstream: null, pipes: {}, closed: false };
    conns.add(c);
    client.on('error', () => resetConn(c));
    if (outageNow() && outageMode === 'reset') {
      events.egress.droppedOutage(0);
      resetConn(c);
      return;
    }
    if (plan.egress.outage) {
      // blackhole: the SYN would not get through; connect when the outage ends.
      pendingConnect.push(c);
      return;
    }
    connectUpstream(c);
  });

  const applyPlans = (): void => {
    if (outageNow() && outageMode === 'reset') {
      for (const c of [...conns]) {
        events.egress.droppedOutage(0);
        resetConn(c);
      }
    }
    for (const c of conns) {
      c.pipes.egress?.configure(plan.egress);
      c.pipes.ingress?.configure(plan.ingress);
    }
    if (!plan.egress.outage) {
      for (const c of pendingConnect.splice(0)) if (!c.closed) connectUpstream(c);
    }
  };

  return {
    proto: 'tcp',
    listen,
    upstream: upstreamHp,
    setImpairments(eg, ing) {
      plan = plans(eg, ing, lenient);
      current = { egress: eg, ingress: ing };
      applyPlans();
    },
    impairments: () => current,
    warnings: () => [
      ...[...plan.egress.ignored, ...plan.ingress.ignored].map((f) => `${f}: not expressible on TCP, ignored (--lenient)`),
      ...plan.egress.notes,
      ...plan.ingress.notes,
    ],
    inOutage: outageNow,
    stats: () => stats.snapshot(),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const c of [...conns]) {
        c.closed = true;
        c.pipes.egress?.destroy();
        c.pipes.ingress?.destroy();
        c.client.destroy();
        c.upstream?.destroy();
      }
      conns.clear();
      stats.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
