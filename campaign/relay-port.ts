/**
 * A UDP port for a relay that the demo and `verify` name in their campaign before the relay binds
 * it (seconds later: after pre-flight, a baseline or earlier steps).
 *
 * bind(0)-then-close would hand out a port from the kernel's ephemeral range, which every other
 * process on the machine draws from for its own bind(0) and outgoing sockets: in the gap, another
 * program can take it and the step fails with EADDRINUSE. So the port is taken from just BELOW the
 * ephemeral range (net.ipv4.ip_local_port_range), where the kernel never assigns ports on its own,
 * and checked free right now on `host`; when none of those is free, an ephemeral one is the
 * fallback. Nothing is held: only a program that binds this exact port on purpose can still race.
 */
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';

/** How many ports below the ephemeral range are candidates. */
const SPAN = 2000;
/** Random candidates tried before the ephemeral fallback. */
const TRIES = 50;

async function ephemeralLow(): Promise<number> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const lo = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(lo) && lo > 1024 ? lo : 32_768;
}

/** Binds `port` on `host` (0: any) and releases it; the bound port, or null when it is taken. */
function tryBind(host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind(port, host, () => {
      const bound = s.address().port;
      s.close(() => resolve(bound));
    });
  });
}

/** A UDP port free on `host` now, below the ephemeral range when one there is free. */
export async function relayListenPort(host: string, random: () => number = Math.random): Promise<number> {
  const lo = await ephemeralLow();
  const first = Math.max(1024, lo - SPAN);
  for (let i = 0; i < TRIES && first < lo; i++) {
    const port = first + Math.floor(random() * (lo - first));
    if ((await tryBind(host, port)) !== null) return port;
  }
  const any = await tryBind(host, 0);
  if (any === null) throw new Error(`cannot bind a UDP port on ${host}`);
  return any;
}
