import { createHash } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import { seededRandom } from '../../../core/random.js';
import type { Impairment } from '../../../core/profile.js';
import { createWaiter } from '../../../probe/timer.js';
import { startTcpRelay, type TcpRelayHandle, type TcpRelayOptions } from '../../../agent/relay/tcp-relay.js';
import { refusedPort } from '../../support/ports.js';
import { sleep, waitFor } from './udp-support.js';

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

  /**
   * The rate mechanism: from the first byte the upstream sees, the link serializes back to back
   * (the client wrote everything at once, so the relay always has data queued):
   * elapsed(first byte -> last byte) = (bytes after the first chunk) * 8 / rate.
   * Floor: 0.99 of that (float rounding). Ceiling: the rate may be at most 15 % slow, plus a stated
   * allowance of 0.3 s for the release timer's lateness on the last chunk and event-loop stalls
   * under load (the link's clock is absolute, so lateness does not accumulate chunk by chunk),
   * plus the longest event-loop stall measured during the transfer (`stallS`): relay and upstream
   * share this process, and a stall delays the last release and its 'data' event by as much.
   * ~2.5 s of transfer make that allowance small against the 15 %.
   */
  async function measureRate(conns: number, each: number, rateKbit: number): Promise<{ received: number; seconds: number; wireS: number; stallS: number }> {
    let received = 0;
    let ended = 0;
    let first: { at: bigint; bytes: number } | undefined;
    let last = 0n;
    const u = await startUpstream((s) => {
      s.on('data', (b: Buffer) => {
        if (!first) first = { at: process.hrtime.bigint(), bytes: b.length };
        received += b.length;
        last = process.hrtime.bigint();
      });
      s.on('end', () => {
        ended++;
        s.end();
      });
    });
    const r = await relay(u.port, { rateKbit });
    const socks = await Promise.all(Array.from({ length: conns }, () => dial(r.listen.port)));
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    for (const c of socks) c.end(payload(each));
    await waitFor(() => ended === conns, 'every transfer', 60_000);
    loop.disable();
    const f = first as unknown as { at: bigint; bytes: number };
    return { received, seconds: Number(last - f.at) / 1e9, wireS: ((received - f.bytes) * 8) / (rateKbit * 1000), stallS: loop.max / 1e9 };
  }

  it('one connection: elapsed time follows the rate within 15 % (floor and ceiling)', async () => {
    const each = 24 * 1024 * 1024;
    const { received, seconds, wireS, stallS } = await measureRate(1, each, 80_000); // 10 MB/s: ~2.5 s
    expect(received).toBe(each);
    expect(seconds).toBeGreaterThanOrEqual(wireS * 0.99);
    expect(seconds).toBeLessThanOrEqual(wireS / 0.85 + 0.3 + stallS);
  }, 60_000);

  it('rate is the link\'s: two connections share it (combined bytes / rate, floor and ceiling)', async () => {
    const each = 12 * 1024 * 1024;
    const { received, seconds, wireS, stallS } = await measureRate(2, each, 80_000);
    expect(received).toBe(2 * each);
    // Shared: 24 MiB at 10 MB/s ~2.5 s (per-connection rates would finish in half that).
    expect(seconds).toBeGreaterThanOrEqual(wireS * 0.99);
    expect(seconds).toBeLessThanOrEqual(wireS / 0.85 + 0.3 + stallS);
  }, 60_000);

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
    await waitFor(() => chunks.join('') === 'before;', 'the first write');
    r.setImpairments({ loss: { model: 'random', pct: 100 } }, { loss: { model: 'random', pct: 100 } });
    expect(r.inOutage()).toBe(true);
    c.write('during1;');
    c.write('during2;');
    await sleep(300);
    expect(chunks.join('')).toBe('before;');
    r.setImpairments({}, {});
    await waitFor(() => chunks.join('').length >= 'before;during1;during2;'.length, 'the held data');
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
    await waitFor(() => got.join('') === 'early', 'the held connection to reach upstream');
    expect(u.conns.length).toBe(1);
  });

  it('reset: open connections get an RST on both sides; new ones are reset until the outage ends', async () => {
    const u = await startUpstream(() => {});
    const r = await relay(u.port, {}, {}, { outageMode: 'reset' });
    const c = await dial(r.listen.port);
    const clientErr = new Promise<string>((res) => c.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? '')));
    c.write('x');
    await waitFor(() => u.conns.length === 1, 'the upstream connection');
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
    await waitFor(() => u.conns.length === 2, 'a connection after the outage');
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
    const t0 = process.hrtime.bigint();
    c.end('bye');
    await ended;
    expect(dataAt).toBeGreaterThan(0n);
    expect(endAt).toBeGreaterThan(dataAt);
    // The relay sees data and FIN after t0 and holds the FIN 300 ms after the data is written.
    // libuv times timers from its cached loop time, which can trail the clock by up to ~1 ms, so
    // the bound is 300 - 2 ms (without slow close the FIN follows within a few ms).
    expect(Number(endAt - t0) / 1e6).toBeGreaterThanOrEqual(298);
  });

  it('an upstream that refuses the connection resets the client; the relay keeps serving', async () => {
    // a port nothing listens on: reserved outside the ephemeral range, so no parallel test's
    // listen(0) can put a server there (bind-then-close would leave that window open)
    const port = await refusedPort();
    const r = await relay(port, {});
    for (let i = 0; i < 2; i++) {
      const c = connect({ port: r.listen.port, host: '127.0.0.1' });
      const outcome = await new Promise<string>((res) => {
        c.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
        c.once('close', () => res('closed'));
      });
      expect(['ECONNRESET', 'closed']).toContain(outcome);
    }
    await waitFor(() => r.stats().flows === 0, 'the failed connections to be forgotten');
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
