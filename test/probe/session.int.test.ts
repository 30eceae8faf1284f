import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import http from 'node:http';
import { startReflector, type Reflector } from '../../probe/reflector.js';
import { parseTarget, startProbeSession } from '../../probe/session.js';
import { startRelay } from '../../agent/relay/relay.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function reflector(stateful = false): Promise<Reflector> {
  const r = await startReflector({ host: '127.0.0.1', port: 0, stateful, ratePps: 0 });
  cleanup.push(() => r.close());
  return r;
}

/**
 * Reply timeout for the tests that expect every probe answered on loopback. A reply is lost when
 * it comes back later than this, and sender, reflector and relay share this process: one stall of
 * the event loop (GC, a loaded CPU) longer than the timeout turns replies in flight into losses.
 * Loopback itself never takes that long, so a generous timeout keeps "nothing lost" about the code.
 */
const LOOPBACK_TIMEOUT_MS = 5000;

describe('STAMP probe session on loopback', () => {
  it('every planned slot of a duration is sent or missed, and every sent probe is answered', async () => {
    const r = await reflector();
    // 600 ms at 2 ms: slots 0..299 (deadline < t0 + duration)
    const sum = await (await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 2, durationMs: 600, timeoutMs: LOOPBACK_TIMEOUT_MS })).done;
    expect(sum.sent + sum.missed).toBe(300);
    expect(sum.received).toBe(sum.sent);
    expect(sum.lost).toBe(0);
    expect(r.stats().reflected).toBe(sum.sent);
  });

  it('sends count probes on schedule and receives every reply', async () => {
    const r = await reflector();
    const s = await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 2, count: 300, timeoutMs: LOOPBACK_TIMEOUT_MS });
    const sum = await s.done;
    expect(sum.sent).toBe(300);
    expect(sum.received).toBe(300);
    expect(sum.lost).toBe(0);
    expect(sum.duplicates).toBe(0);
    expect(sum.reordered).toBe(0);
    expect(sum.rttMs.min).toBeGreaterThan(0);
    expect(sum.rttMs.max).toBeLessThan(LOOPBACK_TIMEOUT_MS);
    expect(sum.histogram?.rtt.length).toBeGreaterThan(10);
    expect(r.stats().reflected).toBe(300);
    expect(sum.done).toBe(true);
  });

  it('a reply slower than --timeout is never received, even when it arrives between two sends', async () => {
    const r = await reflector();
    // 150 ms each way through the relay: every RTT >= 300 ms > the 200 ms timeout. With a 400 ms
    // interval the first reply arrives before the sender's next wake-up (when timeouts are checked).
    // Five probes: the session lasts >= 1800 ms, so the first late reply (due at ~300 ms) has 1.5 s
    // to arrive before the end even when the relay's timers run late on a loaded host.
    const relay = await startRelay({
      proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${r.address.port}`, seed: 1,
      profile: { name: 'slow', description: '150 ms each way', egress: { delayMs: 150 }, ingress: { delayMs: 150 } },
    });
    cleanup.push(() => relay.stop());
    const sum = await (await startProbeSession({ target: `127.0.0.1:${relay.listen.port}`, intervalMs: 400, count: 5, timeoutMs: 200 })).done;
    expect(sum).toMatchObject({ sent: 5, received: 0, lost: 5 });
    // replies 0..3 (due at ~300, ~700, ~1100, ~1500 ms) arrive before the session ends (>= 1800 ms)
    expect(sum.late).toBeGreaterThanOrEqual(1);
    expect(sum.late).toBeLessThanOrEqual(sum.lost);
    expect(sum.rttMs.count).toBe(0);
  });

  it('counts everything lost when nothing answers, and finds the outage', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
    const port = (sock.address() as { port: number }).port; // bound, silent: swallows probes
    cleanup.push(() => new Promise((res) => sock.close(() => res())));
    const s = await startProbeSession({ target: `127.0.0.1:${port}`, intervalMs: 5, count: 20, timeoutMs: 50 });
    const sum = await s.done;
    expect(sum).toMatchObject({ sent: 20, received: 0, lost: 20, lossRatio: 1, outageCount: 1 });
    expect(sum.outages[0]).toMatchObject({ lost: 20, openStart: true, openEnd: true });
  });

  it('stop() ends a run with no duration and is idempotent; snapshots arrive off the send path', async () => {
    const r = await reflector(true);
    const s = await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 5, timeoutMs: LOOPBACK_TIMEOUT_MS, snapshotIntervalMs: 50, statefulReflector: true });
    const snaps: number[] = [];
    s.on('snapshot', (x) => snaps.push(x.sent));
    // Until two snapshots came and more than 10 probes went out (a fixed sleep is not enough on a
    // loaded host: slots it reaches late are skipped as missed, and timers fire late).
    await expect.poll(() => snaps.length >= 2 && s.snapshot().sent > 10, { timeout: 30_000, interval: 20 }).toBe(true);
    const [a, b] = await Promise.all([s.stop(), s.stop()]);
    expect(a).toBe(b);
    expect(a.sent).toBeGreaterThan(10);
    expect(a.received).toBe(a.sent);
    expect(a.direction).toEqual({ forwardLost: 0, reverseLost: 0, unknownLost: 0 });
    expect(snaps.length).toBeGreaterThanOrEqual(2);
  });
});

describe('IPv6', () => {
  it('probes a reflector on [::1]', async () => {
    const r = await startReflector({ host: '::1', port: 0, ratePps: 0 });
    cleanup.push(() => r.close());
    const s = await (await startProbeSession({ target: `[::1]:${r.address.port}`, intervalMs: 2, count: 30, timeoutMs: LOOPBACK_TIMEOUT_MS })).done;
    expect(s).toMatchObject({ target: `[::1]:${r.address.port}`, sent: 30, received: 30, lost: 0 });
  });
});

describe('connect-time probes', () => {
  it('tcp:// measures connect time', async () => {
    const srv = net.createServer((c) => c.destroy());
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    cleanup.push(() => new Promise((res) => srv.close(() => res())));
    const port = (srv.address() as net.AddressInfo).port;
    const sum = await (await startProbeSession({ target: `tcp://127.0.0.1:${port}`, intervalMs: 10, count: 20, timeoutMs: LOOPBACK_TIMEOUT_MS })).done;
    expect(sum).toMatchObject({ kind: 'tcp', sent: 20, received: 20, lost: 0 });
  });

  it('http:// measures time to first byte', async () => {
    const srv = http.createServer((_q, res) => res.end('ok'));
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    cleanup.push(() => new Promise((res) => { srv.closeAllConnections(); srv.close(() => res()); }));
    const port = (srv.address() as net.AddressInfo).port;
    const sum = await (await startProbeSession({ target: `http://127.0.0.1:${port}/x`, intervalMs: 10, count: 10, timeoutMs: LOOPBACK_TIMEOUT_MS })).done;
    expect(sum).toMatchObject({ kind: 'http', sent: 10, received: 10, lost: 0 });
  });

  it('http:// resolves the host name once at start and keeps it in the Host header', async () => {
    const hosts: (string | undefined)[] = [];
    const srv = http.createServer((q, res) => {
      hosts.push(q.headers.host);
      res.end('ok');
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    cleanup.push(() => new Promise((res) => { srv.closeAllConnections(); srv.close(() => res()); }));
    const port = (srv.address() as net.AddressInfo).port;
    let lookups = 0;
    // A name only this lookup knows (.invalid never resolves in DNS): a per-request resolution fails.
    const lookup = async (host: string): Promise<{ address: string }> => {
      lookups += 1;
      if (host !== 'edge-site.invalid') throw new Error(`unexpected name ${host}`);
      return { address: '127.0.0.1' };
    };
    const s = await startProbeSession({ target: `http://edge-site.invalid:${port}/x`, intervalMs: 10, count: 8, timeoutMs: LOOPBACK_TIMEOUT_MS }, { lookup });
    const sum = await s.done;
    expect(sum).toMatchObject({ kind: 'http', sent: 8, received: 8, lost: 0 });
    expect(lookups).toBe(1);
    expect(hosts).toEqual(Array(8).fill(`edge-site.invalid:${port}`));
  });
});

describe('parseTarget', () => {
  it.each([
    ['10.0.0.1', { kind: 'stamp', host: '10.0.0.1', port: 862 }],
    ['10.0.0.1:8862', { kind: 'stamp', host: '10.0.0.1', port: 8862 }],
    ['[fd00::1]:900', { kind: 'stamp', host: 'fd00::1', port: 900 }],
    ['fd00::1', { kind: 'stamp', host: 'fd00::1', port: 862 }],
    ['tcp://example.net:443', { kind: 'tcp', host: 'example.net', port: 443 }],
    ['https://example.net/health', { kind: 'http', host: 'example.net', port: 443 }],
  ])('%s', (s, want) => {
    expect(parseTarget(s)).toMatchObject(want);
  });

  it.each(['tcp://host', 'udp://x:1', 'host:99999', 'a b'])('rejects %s', (s) => {
    expect(() => parseTarget(s)).toThrow(/probe target/);
  });
});

describe('one-way delays', () => {
  it('are reported only when both clocks are declared synchronised, and add up to the RTT', async () => {
    const r = await startReflector({ host: '127.0.0.1', port: 0, ratePps: 0, clockSync: { synchronized: true, clockErrorNs: 1000 } });
    cleanup.push(() => r.close());
    const s = await (await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 2, count: 100, clockSync: { synchronized: true, clockErrorNs: 1000 } })).done;
    const ow = s.oneWayMs;
    expect(ow).not.toBeNull();
    if (!ow) return;
    expect(ow.forward.count).toBe(s.received);
    expect(ow.unsynchronizedReplies).toBe(0);
    expect(ow.errorBoundMs).toBeGreaterThanOrEqual(0.002);
    // forward + reverse = (T2 - T1) + (T4 - T3) = RTT, exactly (to ns rounding), on any clocks
    expect(Math.abs((ow.forward.mean as number) + (ow.reverse.mean as number) - (s.rttMs.mean as number))).toBeLessThan(0.001);
    // same host: both directions are >= 0 within the clock error bound
    expect(ow.forward.min as number).toBeGreaterThan(-(ow.errorBoundMs as number));
    expect(ow.reverse.min as number).toBeGreaterThan(-(ow.errorBoundMs as number));
  });

  it('are left out (counted) when the reflector clock is not synchronised, and absent unless we declare ours', async () => {
    const r = await reflector();
    const a = await (await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 2, count: 20, timeoutMs: LOOPBACK_TIMEOUT_MS, clockSync: { synchronized: true } })).done;
    expect(a.oneWayMs).toMatchObject({ unsynchronizedReplies: 20, forward: { count: 0 }, errorBoundMs: null });
    const b = await (await startProbeSession({ target: `127.0.0.1:${r.address.port}`, intervalMs: 2, count: 5 })).done;
    expect(b.oneWayMs).toBeNull();
  });
});
