/**
 * `order: keep` through the real UDP relay on loopback: the same jitter (20 ms +/- 15 ms at about
 * 1000 datagrams/s, the jitter spanning ~30 spacings) reorders without it and never with it.
 * Nothing here depends on timing: the relay's engine releases in order by construction, and one
 * socket to one socket over loopback keeps the order the relay sent in.
 */
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../core/clock.js';
import type { Impairment } from '../../../core/profile.js';
import { seededRandom } from '../../../core/random.js';
import { createWaiter } from '../../../probe/timer.js';
import { startUdpRelay } from '../../../agent/relay/udp-relay.js';
import { paceSend, startSink, waitFor } from './udp-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Arrivals with a sequence below the highest seen before them (RFC 4737's reordered count). */
function reordered(seqs: readonly number[]): number {
  let n = 0;
  let max = -1;
  for (const s of seqs) {
    if (s < max) n++;
    else max = s;
  }
  return n;
}

async function train(egress: Impairment, n: number): Promise<number[]> {
  const sink = await startSink();
  cleanups.push(() => sink.close());
  const relay = await startUdpRelay(
    { listen: '127.0.0.1:0', upstream: `127.0.0.1:${sink.port}`, egress, ingress: {} },
    { clock: systemClock, random: seededRandom(11), createWaiter: () => createWaiter('sleep', systemClock) },
  );
  cleanups.push(() => relay.stop());
  const c = createSocket('udp4');
  cleanups.push(() => new Promise((r) => c.close(() => r())));
  await new Promise<void>((r) => c.bind(0, '127.0.0.1', () => r()));
  await paceSend(c, relay.listen.port, n, 1000);
  await waitFor(() => sink.got.length === n, `${n} datagrams through the relay (got ${sink.got.length})`);
  return sink.got.map((g) => g.seq);
}

describe('UDP relay: order: keep', () => {
  it('20 ms +/- 15 ms jitter reorders without it, 0 reordered with it', { timeout: 30_000 }, async () => {
    const n = 300;
    const free = await train({ delayMs: 20, jitterMs: 15 }, n);
    const kept = await train({ delayMs: 20, jitterMs: 15, keepOrder: true }, n);
    expect(kept).toHaveLength(n);
    expect(reordered(free)).toBeGreaterThan(0);
    expect(reordered(kept)).toBe(0);
    expect(kept).toEqual(Array.from({ length: n }, (_, i) => i)); // no loss configured: every datagram, in order
  });
});
