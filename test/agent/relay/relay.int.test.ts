import { createSocket } from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import { startRelay, type RelayHandle } from '../../../agent/relay/relay.js';
import { paceSend, startEcho, startSink, waitFor } from './udp-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('startRelay (profile + schedule)', () => {
  it('runs schedule phases in order, each with its own behaviour on the wire', async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const profile: Profile = {
      name: 'sched',
      description: 'three phases then the base',
      egress: { delayMs: 5 },
      schedule: {
        loop: false,
        tail: 'base',
        phases: [
          { name: 'slow', durationMs: 800, egress: { delayMs: 200 } },
          { name: 'down', durationMs: 800, egress: { loss: { model: 'random', pct: 100 } } },
          { name: 'fast', durationMs: 800, egress: { delayMs: 50 } },
        ],
      },
    };
    const relay: RelayHandle = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${sink.port}`, profile, seed: 1 });
    cleanups.push(() => relay.stop());
    const c = createSocket('udp4');
    cleanups.push(() => new Promise((r) => c.close(() => r())));
    // One (wall, monotonic) pair read together, just before the first send: send times (monotonic)
    // map to the wall clock the phase history uses without the set-up time in between.
    const anchorWall = Date.now();
    const anchorNs = process.hrtime.bigint();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const sent = await paceSend(c, relay.listen.port, 640, 200); // 3.2 s at 200 pps
    await waitFor(() => relay.stats().egress.packetsIn === 640 && relay.stats().egress.queueDepth === 0, 'the relay to handle every datagram');
    loop.disable();
    expect(relay.phaseHistory().map((h) => h.phaseName ?? 'base')).toEqual(['slow', 'down', 'fast', 'base']);
    const hist = relay.phaseHistory();
    const sentWall = (i: number): number => anchorWall + Number(sent[i]! - anchorNs) / 1e6;
    const phaseAt = (wall: number): string => {
      let name = 'base';
      for (const h of hist) if (h.sinceMs <= wall) name = h.phaseName ?? 'base';
      return name;
    };
    const bySeq = new Map(sink.got.map((g) => [g.seq, g]));
    // Skip packets sent within this much of a switch: on a loaded machine the relay may handle a
    // packet that long after it was sent (the delays below are far apart for the same reason).
    // Sender, relay and phase timer share this process: a stall of the event loop delays the
    // switch and the reading of datagrams sent before it alike, so the packets sent up to one
    // stall before a switch meet the new phase; the longest stall measured widens the guard.
    const guardMs = 150 + loop.max / 1e6;
    const near = (w: number): boolean => hist.some((h) => Math.abs(h.sinceMs - w) < guardMs);
    const seen: Record<string, { n: number; got: number; delays: number[] }> = {};
    for (let i = 0; i < sent.length; i++) {
      const w = sentWall(i);
      if (near(w)) continue;
      const ph = phaseAt(w);
      const s = (seen[ph] ??= { n: 0, got: 0, delays: [] });
      s.n++;
      const g = bySeq.get(i);
      if (g) {
        s.got++;
        s.delays.push(Number(g.tNs - sent[i]!) / 1e6);
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    expect(seen['down']!.got).toBe(0);
    expect(seen['slow']!.got).toBe(seen['slow']!.n);
    expect(Math.min(...seen['slow']!.delays)).toBeGreaterThanOrEqual(200);
    expect(Math.min(...seen['fast']!.delays)).toBeGreaterThanOrEqual(50);
    expect(median(seen['fast']!.delays)).toBeLessThan(200);
    expect(Math.min(...seen['base']!.delays)).toBeGreaterThanOrEqual(5);
    expect(median(seen['base']!.delays)).toBeLessThan(50);
  });

  it('refuses, before opening anything, a phase the protocol cannot express', async () => {
    const profile: Profile = {
      name: 'x',
      description: 'x',
      egress: {},
      schedule: { loop: true, phases: [{ durationMs: 1000 }, { durationMs: 1000, egress: { duplicatePct: 5 } }] },
    };
    await expect(startRelay({ proto: 'tcp', listen: '127.0.0.1:0', upstream: '127.0.0.1:9', profile })).rejects.toThrow(/schedule\.phases\[1\]\.egress\.duplicatePct/);
  });

  it('reports the seed it used; the same seed reproduces the same drops', async () => {
    const profile: Profile = { name: 'l', description: 'l', egress: { loss: { model: 'random', pct: 30 } } };
    const run = async (seed: number): Promise<number[]> => {
      const sink = await startSink();
      const relay = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${sink.port}`, profile, seed });
      expect(relay.seed).toBe(seed);
      const c = createSocket('udp4');
      await paceSend(c, relay.listen.port, 300, 3000);
      await waitFor(() => relay.stats().egress.packetsIn === 300 && sink.got.length === relay.stats().egress.packetsOut, 'every datagram');
      await relay.stop();
      await sink.close();
      c.close();
      return sink.got.map((g) => g.seq);
    };
    const a = await run(77);
    expect(await run(77)).toEqual(a);
    expect(await run(78)).not.toEqual(a);
  });

  it("the profile's ingress.seed seeds the ingress direction, whatever the relay seed", async () => {
    const profileWith = (ingressSeed: number): Profile => ({
      name: 'l', description: 'l', egress: {}, ingress: { loss: { model: 'random', pct: 30 }, seed: ingressSeed },
    });
    // client -> relay -> echo -> relay (30 % ingress loss) -> client: which replies come back
    const run = async (seed: number, ingressSeed: number): Promise<number[]> => {
      const echo = await startEcho();
      const relay = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echo.port}`, profile: profileWith(ingressSeed), seed });
      expect([relay.seed, relay.ingressSeed]).toEqual([seed, ingressSeed]);
      const c = createSocket('udp4');
      const got: number[] = [];
      c.on('message', (m) => got.push(m.readUInt32BE(0)));
      await new Promise<void>((res) => c.bind(0, '127.0.0.1', () => res()));
      await paceSend(c, relay.listen.port, 300, 3000);
      await waitFor(() => relay.stats().ingress.packetsIn === 300 && got.length === relay.stats().ingress.packetsOut, 'every reply');
      await relay.stop();
      await echo.close();
      c.close();
      return got;
    };
    const a = await run(1, 5);
    expect(a.length).toBeLessThan(300); // the loss applied
    expect(await run(2, 5)).toEqual(a); // another relay seed: same ingress draws
    expect(await run(1, 6)).not.toEqual(a);
  });

  it('without ingress.seed the ingress direction derives from the relay seed', async () => {
    const profile: Profile = { name: 'l', description: 'l', egress: {}, ingress: { loss: { model: 'random', pct: 30 } } };
    const relay = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: '127.0.0.1:9', profile, seed: 3 });
    expect(relay.ingressSeed).toBeNull();
    await relay.stop();
  });
});
