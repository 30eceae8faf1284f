/**
 * Ports a test must name before the socket that uses it exists (a child process told
 * `--listen 127.0.0.1:PORT`, a server restarted on the same port, an agent API config).
 *
 * The usual trick (bind port 0, read the port, close, hand it on) races: the kernel hands out
 * ports from the ephemeral range (net.ipv4.ip_local_port_range) to every bind(0) and every
 * outgoing connection of every process, so while the port is free another test file running in
 * parallel can get it (EADDRINUSE, or worse: a stranger answering on "our" port). Ports chosen
 * here lie OUTSIDE the ephemeral range, so the kernel never gives them to anyone on its own; the
 * range is split between the vitest workers of a run (VITEST_POOL_ID), so two files running at the
 * same time never pick the same one; and each is checked free (TCP and UDP, 127.0.0.1) before it
 * is handed out, which catches anything else on the machine that holds it.
 */
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Lowest port used (below: well-known and registered services). */
const FLOOR = 10_000;
/** Ports per vitest worker. */
const BLOCK = 1_000;

/** The kernel's ephemeral range [lo, hi] (Linux default 32768-60999). */
export function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo as number, hi as number];
  } catch { /* not Linux: assume the default */ }
  return [32_768, 60_999];
}

/** The [first, last] ports this worker may use: a block outside the ephemeral range. */
export function portBlock(poolId = Number(process.env['VITEST_POOL_ID'] ?? 1)): [number, number] {
  const [lo, hi] = ephemeralRange();
  // Below the ephemeral range if there is room there, otherwise above it; if it spans (nearly)
  // everything, any port from FLOOR up (the free check still applies).
  const [start, end] = lo - FLOOR >= 2 * BLOCK ? [FLOOR, lo - 1] : 65_535 - hi >= 2 * BLOCK ? [hi + 1, 65_535] : [FLOOR, 65_535];
  const blocks = Math.max(1, Math.floor((end - start + 1) / BLOCK));
  const size = Math.min(BLOCK, end - start + 1);
  const first = start + ((Math.max(1, poolId) - 1) % blocks) * size;
  return [first, first + size - 1];
}

const handedOut = new Set<number>();

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => res(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      res(false);
    });
    s.bind(port, host, () => s.close(() => res(true)));
  });
}

/**
 * A port free on 127.0.0.1 for both TCP and UDP, outside the ephemeral range, in this worker's
 * block, not handed out before by this process. Throws when the block is exhausted.
 */
export async function reservePort(): Promise<number> {
  const [first, last] = portBlock();
  const size = last - first + 1;
  const offset = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = first + ((offset + i) % size);
    if (handedOut.has(port)) continue;
    if ((await tcpFree(port, '127.0.0.1')) && (await udpFree(port, '127.0.0.1'))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${first}-${last}`);
}

/**
 * A port nothing listens on and nothing will (for "connection refused" cases): reserved like
 * reservePort(), so no other test of the run binds it and the kernel does not hand it out.
 */
export const refusedPort = reservePort;

/** Whether some socket has UDP `port` bound (any address), from /proc/net/udp and udp6 (no bind of ours). */
export function udpBound(port: number): boolean {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    // Each row: "sl local_address rem_address ..."; the local address is the second field.
    if (text.split('\n').slice(1).some((row) => (row.trim().split(/\s+/)[1] ?? '').endsWith(suffix))) return true;
  }
  return false;
}

/**
 * Waits until something has bound UDP `port` (a child process started with it), polling every
 * 20 ms without binding it ourselves (which could make the child's bind fail); throws after
 * `timeoutMs` with `describe()`.
 */
export async function waitForUdpBound(port: number, timeoutMs: number, describe: () => string = () => ''): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!udpBound(port)) {
    if (Date.now() > end) throw new Error(`nothing bound udp port ${port} within ${timeoutMs} ms\n${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
