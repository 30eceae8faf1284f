import { createHash } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import { seededRandom } from '../../../core/random.js';
import type { Impairment } from '../../../core/profile.js';
import { createWaiter } from '../../../probe/timer.js';
import { startTcpRelay, type TcpRelayHandle, type TcpRelayOptions } from '../../../agent/relay/tcp-relay.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Upstream {
  port: number;
  conns: Socket[];
  events: string[];
}

/** A TCP server that records per-connection data and events; `mode` echo or sink. */
async function startUpstream(onConn: (s: Socket, u: Upstream) => void): Promise<Upstream> {
  const u: Upstream = { port: 0, conns: [], events: [] };
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    u.conns.push(s);
    s.on('error', (e: NodeJS.ErrnoException) => u.events.push(`error:${e.code}`));
    onConn(s, u);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of u.conns) c.destroy();
        server.close(() => r());
      }),
  );
  return u;
}

async function relay(port: number, egress: Impairment, ingress: Impairment = {}, extra: Partial<TcpRelayOptions> = {}): Promise<TcpRelayHandle> {
  const r = await startTcpRelay(
    { listen: '127.0.0.1:0', upstream: `127.0.0.1:${port}`, egress, ingress, ...extra },
    { clock: systemClock, random: seededRandom(1), createWaiter: () => createWaiter('hybrid', systemClock) },
  );
  cleanups.push(() => r.stop());
  return r;
}

function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
    cleanups.push(() => {
      s.destroy();
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Deterministic pseudo-random bytes (xorshift), so corruption or reordering would change the hash. */
function payload(bytes: number): Buffer {
  const b = Buffer.allocUnsafe(bytes);
  let x = 0x12345678;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

describe('TCP relay (loopback)', () => {
  it('50 MB arrive intact and in order under delay + rate (sha256 both ends)', async () => {
    const total = 50 * 1024 * 1024;
    const data = payload(total);
    const sent = createHash('sha256').update(data).digest('hex');
    let received = 0;
    const hash = createHash('sha256');
    const done = new Promise<void>((resolve) => {
      void startUpstream((s) => {
        s.on('data', (b: Buffer) => {
          received += b.length;
          hash.update(b);
        });
        s.on('end', () => {
          s.end();
          resolve();
        });
      }).then((u) => (upPort.value = u.port));
    });
    const upPort = { value: 0 };
    while (upPort.value === 0) await sleep(5);
    const rateKbit = 800_000; // 800 Mbit/s: 50 MiB take >= 0.52 s on the wire
    const r = await relay(upPort.value, { delayMs: 5, jitterMs: 2, rateKbit });
    const c = await dial(r.listen.port);
    const t0 = process.hrtime.bigint();
    c.end(data);
    await done;
    const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(sent);
    // Mechanism: the relay cannot deliver faster than the configured rate (plus one delay).
    expect(elapsedS).toBeGreaterThanOrEqual((total * 8) / (rateKbit * 1000) * 0.99);
    const s = r.stats();
    expect(s.egress.bytesIn).toBe(total);
    expect(s.egress.bytesOut).toBe(total);
  }, 120_000);

  it('delays each direction (echo round trip >= egress + ingress delay)', async () => {
    const u = await startUpstream((s) => s.pipe(s));
    const r = await relay(u.port, { delayMs: 15 }, { delayMs: 10 });
    const c = await dial(r.listen.port);
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      const got = new Promise<string>((res) => c.once('data', (b) => res(b.toString())));
      c.write(`hello ${i}`);
      expect(await got).toBe(`hello ${i}`);
      expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeGreaterThanOrEqual(25);
    }
  });

  it('blackhole: holds data during the outage, delivers it in order afterwards, no reset', async () => {
    const chunks: string[] = [];
    const u = await startUpstream((s) => s.on('data', (b) => chunks.push(b.toString())));
    const r = await relay(u.port, {});
    const c = await dial(r.listen.port);
    const clientEvents: string[] = [];
    c.on('error', (e: NodeJS.ErrnoException) => clientEvents.push(`error:${e.code}`));
    c.write('before;');
    await sleep(100);
    r.setImpairments({ loss: { model: 'random', pct: 100 } }, { loss: { model: 'random', pct: 100 } });
    expect(r.inOutage()).toBe(true);
    c.write('during1;');
    c.write('during2;');
    await sleep(300);
    expect(chunks.join('')).toBe('before;');
    r.setImpairments({}, {});
    await sleep(200);
    expect(chunks.join('')).toBe('before;during1;during2;');
    expect(clientEvents).toEqual([]);
    expect(u.events).toEqual([]);
  });

  it('blackhole: a connection opened during the outage reaches upstream only after it', async () => {
    const got: string[] = [];
    const u = await startUpstream((s) => s.on('data', (b) => got.push(b.toString())));
    const r = await relay(u.port, { loss: { model: 'random', pct: 100 } });
    const c = await dial(r.listen.port);
    c.write('early');
    await sleep(200);
    expect(u.conns.length).toBe(0);
    r.setImpairments({}, {});
    await sleep(200);
    expect(u.conns.length).toBe(1);
    expect(got.join('')).toBe('early');
  });

  it('reset: open connections get an RST on both sides; new ones are reset until the outage ends', async () => {
    const u = await startUpstream(() => {});
    const r = await relay(u.port, {}, {}, { outageMode: 'reset' });
    const c = await dial(r.listen.port);
    const clientErr = new Promise<string>((res) => c.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? '')));
    c.write('x');
    await sleep(100);
    expect(u.conns.length).toBe(1);
    const upClosed = new Promise<void>((res) => u.conns[0]!.once('close', () => res()));
    r.setImpairments({ loss: { model: 'random', pct: 100 } }, {});
    expect(await clientErr).toBe('ECONNRESET');
    await upClosed;
    expect(u.events).toContain('error:ECONNRESET');
    // a new connection during the outage is reset at once
    const c2 = connect({ port: r.listen.port, host: '127.0.0.1' });
    cleanups.push(() => void c2.destroy());
    const err2 = await new Promise<string>((res) => {
      c2.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? ''));
      c2.once('close', () => res('closed'));
    });
    expect(['ECONNRESET', 'closed']).toContain(err2);
    expect(u.conns.length).toBe(1);
    // after the outage, connections work again
    r.setImpairments({}, {});
    const c3 = await dial(r.listen.port);
    c3.write('ok');
    await sleep(100);
    expect(u.conns.length).toBe(2);
  });

  it('slow close: the FIN reaches upstream slowCloseMs after the data', async () => {
    let dataAt = 0n;
    let endAt = 0n;
    const ended = new Promise<void>((res) => {
      void startUpstream((s) => {
        s.on('data', () => (dataAt = process.hrtime.bigint()));
        s.on('end', () => {
          endAt = process.hrtime.bigint();
          res();
        });
      }).then((u) => (up.port = u.port));
    });
    const up = { port: 0 };
    while (up.port === 0) await sleep(5);
    const r = await relay(up.port, {}, {}, { slowCloseMs: 300 });
    const c = await dial(r.listen.port);
    c.end('bye');
    await ended;
    expect(Number(endAt - dataAt) / 1e6).toBeGreaterThanOrEqual(299);
  });

  it('refuses packet-level fields with a clear error; --lenient drops and lists them', async () => {
    await expect(relay(9, { loss: { model: 'random', pct: 1 }, duplicatePct: 1 })).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED',
      message: expect.stringMatching(/egress\.loss, egress\.duplicatePct/),
    });
    const r = await relay(9, { loss: { model: 'random', pct: 1 }, delayMs: 5, limitPackets: 100 }, {}, { lenient: true });
    expect(r.warnings().join('\n')).toMatch(/egress\.loss: not expressible on TCP, ignored/);
    expect(r.warnings().join('\n')).toMatch(/limitPackets.*backpressure/);
  });
});
