/** relayListenPort: below the ephemeral range when free there, an ephemeral port otherwise. */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { relayListenPort } from '../../campaign/relay-port.js';

const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];

const held: Socket[] = [];
afterEach(async () => {
  await Promise.all(held.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function hold(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, '127.0.0.1', () => {
      held.push(s);
      resolve(s.address().port);
    });
  });
}

describe('relayListenPort', () => {
  it('picks a port just below the ephemeral range, free to bind', async () => {
    const port = await relayListenPort('127.0.0.1');
    expect(port).toBeLessThan(lo);
    expect(port).toBeGreaterThanOrEqual(Math.max(1024, lo - 2000));
    expect(await hold(port)).toBe(port);
  });

  it('skips a port that is taken; with every candidate taken, falls back to an ephemeral port', async () => {
    // the only candidate this random source offers is the first of the span: take it first
    const first = Math.max(1024, lo - 2000);
    const taken = await hold(first).catch(() => first); // someone else holds it: taken all the same
    expect(taken).toBe(first);
    const port = await relayListenPort('127.0.0.1', () => 0);
    expect(port).not.toBe(first);
    expect(port).toBeGreaterThanOrEqual(lo);
    expect(port).toBeLessThanOrEqual(hi);
  });
});
