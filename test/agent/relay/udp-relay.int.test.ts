import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { systemClock } from '../../../core/clock.js';
import { seededRandom } from '../../../core/random.js';
import { createWaiter } from '../../../probe/timer.js';
import { startUdpRelay, type UdpRelayHandle } from '../../../agent/relay/udp-relay.js';
import type { Impairment } from '../../../core/profile.js';
import { paceSend, startEcho, startSink, waitFor } from './udp-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function relayTo(port: number, egress: Impairment, ingress: Impairment = {}, registry?: Registry, extra: { idleTimeoutMs?: number; maxFlows?: number } = {}): Promise<UdpRelayHandle> {
  const r = await startUdpRelay(
    { listen: '127.0.0.1:0', upstream: `127.0.0.1:${port}`, egress, ingress, ...extra },
    { clock: systemClock, random: seededRandom(1), createWaiter: () => createWaiter('hybrid', systemClock), ...(registry ? { registry } : {}) },
  );
  cleanups.push(() => r.stop());
  return r;
}

describe('UDP relay (loopback)', () => {
  it('relays both ways with the configured delay per direction', async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    const relay = await relayTo(echo.port, { delayMs: 20 }, { delayMs: 10 });
    const c = createSocket('udp4');
    cleanups.push(() => new Promise((r) => c.close(() => r())));
    await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
    const rtts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const reply = new Promise<Buffer>((r) => c.once('message', (m) => r(m)));
      c.send(Buffer.from(`ping ${i}`), relay.listen.port, '127.0.0.1');
      const m = await reply;
      rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
      expect(m.toString()).toBe(`ping ${i}`);
    }
    // Mechanism: 30 ms of added delay; the release can only be late, never early.
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(30);
    const s = relay.stats();
    expect(s.egress.packetsIn).toBe(5);
    expect(s.egress.packetsOut).toBe(5);
    expect(s.ingress.packetsOut).toBe(5);
    expect(s.flows).toBe(1);
  });

  it('keeps one flow per client, and closes idle flows', async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    // 1 s idle: the three round trips must all complete (and be counted) within it, so a short
    // timeout would close the first flow early on a loaded host.
    const relay = await relayTo(echo.port, {}, {}, undefined, { idleTimeoutMs: 1000 });
    const socks = await Promise.all(
      [0, 1, 2].map(async () => {
        const c = createSocket('udp4');
        await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
        cleanups.push(() => new Promise((r) => c.close(() => r())));
        return c;
      }),
    );
    const replies = socks.map((c, i) => new Promise<string>((r) => c.once('message', (m) => r(m.toString()))).then((s) => expect(s).toBe(`c${i}`)));
    socks.forEach((c, i) => c.send(`c${i}`, relay.listen.port, '127.0.0.1'));
    await Promise.all(replies);
    expect(relay.stats().flows).toBe(3);
    await waitFor(() => relay.stats().flows === 0, 'idle flows to close', 30_000);
  });

  it('drops datagrams from clients beyond maxFlows (counted as flow-limit)', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const relay = await relayTo(sink.port, {}, {}, undefined, { maxFlows: 1 });
    const a = createSocket('udp4');
    const b = createSocket('udp4');
    cleanups.push(() => new Promise((r) => a.close(() => r())), () => new Promise((r) => b.close(() => r())));
    a.send(Buffer.alloc(8), relay.listen.port, '127.0.0.1');
    await waitFor(() => sink.got.length === 1, 'the first client');
    b.send(Buffer.alloc(8), relay.listen.port, '127.0.0.1');
    await waitFor(() => relay.stats().egress.drops['flow-limit'] === 1, 'the second client to be refused');
    expect(sink.got.length).toBe(1);
  });

  it('exports counters with the metric names and labels of the contract', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const registry = new Registry();
    const relay = await relayTo(sink.port, { loss: { model: 'random', pct: 50 } }, {}, registry);
    const c = createSocket('udp4');
    cleanups.push(() => new Promise((r) => c.close(() => r())));
    await paceSend(c, relay.listen.port, 200, 2000);
    await waitFor(() => relay.stats().egress.packetsIn === 200 && sink.got.length === relay.stats().egress.packetsOut, 'every datagram');
    const text = await registry.metrics();
    const s = relay.stats();
    expect(s.egress.packetsIn).toBe(200);
    expect(s.egress.packetsOut + (s.egress.drops.loss ?? 0)).toBe(200);
    expect(text).toContain(`backhaul_relay_packets_total{relay="udp:127.0.0.1:${relay.listen.port}",direction="egress",stage="in"} 200`);
    expect(text).toContain(`backhaul_relay_drops_total{relay="udp:127.0.0.1:${relay.listen.port}",direction="egress",cause="loss"} ${s.egress.drops.loss}`);
    expect(text).toMatch(/backhaul_relay_queue_depth_packets\{relay="[^"]+",direction="egress"\} 0/);
    expect(text).toMatch(/backhaul_relay_flows\{relay="[^"]+"\} 1/);
    expect(sink.got.length).toBe(s.egress.packetsOut);
  });

  it('corrupt 100 %: every datagram arrives with exactly one bit flipped', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const relay = await relayTo(sink.port, { corruptPct: 100 });
    const c = createSocket('udp4');
    cleanups.push(() => new Promise((r) => c.close(() => r())));
    const n = 50;
    const payload = (i: number): Buffer => Buffer.alloc(100, i);
    for (let i = 0; i < n; i++) c.send(payload(i), relay.listen.port, '127.0.0.1');
    await waitFor(() => sink.got.length === n, 'every datagram');
    for (const g of sink.got) {
      // the first byte may be the flipped one: find the original by majority
      const counts = new Map<number, number>();
      for (const b of g.data) counts.set(b, (counts.get(b) ?? 0) + 1);
      const orig = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
      let bits = 0;
      for (const b of g.data) bits += (b ^ orig).toString(2).replace(/0/g, '').length;
      expect(bits).toBe(1);
    }
    expect(relay.stats().egress.corrupted).toBe(n);
  });

  it('IPv6: listens on [::1] and relays to an IPv6 upstream', async () => {
    const up = createSocket('udp6');
    up.on('message', (m, r) => up.send(m, r.port, r.address));
    await new Promise<void>((r) => up.bind(0, '::1', () => r()));
    cleanups.push(() => new Promise((r) => up.close(() => r())));
    const relay = await startUdpRelay(
      { listen: '[::1]:0', upstream: `[::1]:${up.address().port}`, egress: { delayMs: 2 }, ingress: {} },
      { clock: systemClock, random: seededRandom(1), createWaiter: () => createWaiter('hybrid', systemClock) },
    );
    cleanups.push(() => relay.stop());
    expect(relay.listen.host).toBe('::1');
    const c = createSocket('udp6');
    cleanups.push(() => new Promise((r) => c.close(() => r())));
    const reply = new Promise<string>((r) => c.once('message', (m) => r(m.toString())));
    c.send('v6', relay.listen.port, '::1');
    expect(await reply).toBe('v6');
  });

  it('refuses ecn and reorder without delay, naming the field', async () => {
    await expect(relayTo(9, { ecn: true, loss: { model: 'random', pct: 1 } })).rejects.toThrow(/egress\.ecn/);
    await expect(relayTo(9, {}, { reorderPct: 5 })).rejects.toThrow(/ingress\.reorderPct.*delay/);
  });

  it('a listen address in use is a clear usage error', async () => {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => s.close(() => r())));
    await expect(
      startUdpRelay(
        { listen: `127.0.0.1:${s.address().port}`, upstream: '127.0.0.1:9', egress: {}, ingress: {} },
        { clock: systemClock, random: seededRandom(1), createWaiter: () => createWaiter('sleep', systemClock) },
      ),
    ).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/EADDRINUSE/) });
  });
});
