/** Helpers for relay integration tests: a UDP echo upstream and a timestamping client. */
import { createSocket, type Socket } from 'node:dgram';

export interface Echo {
  port: number;
  received: () => number;
  close(): Promise<void>;
}

/** A UDP echo server on 127.0.0.1 (replies with the same bytes). */
export async function startEcho(): Promise<Echo> {
  const s = createSocket('udp4');
  let n = 0;
  s.on('message', (msg, r) => {
    n++;
    s.send(msg, r.port, r.address);
  });
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  return { port: s.address().port, received: () => n, close: () => new Promise((res) => s.close(() => res())) };
}

/** A UDP sink on 127.0.0.1 that records (seq, receive time ns) of 8-byte-seq datagrams. */
export async function startSink(): Promise<{ port: number; got: { seq: number; tNs: bigint; data: Buffer }[]; sock: Socket; close(): Promise<void> }> {
  const s = createSocket('udp4');
  const got: { seq: number; tNs: bigint; data: Buffer }[] = [];
  s.on('message', (msg) => {
    got.push({ seq: msg.length >= 4 ? msg.readUInt32BE(0) : -1, tNs: process.hrtime.bigint(), data: msg });
  });
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  s.setRecvBufferSize(4 * 1024 * 1024);
  return { port: s.address().port, got, sock: s, close: () => new Promise((res) => s.close(() => res())) };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Send `n` datagrams (4-byte seq + padding to `size`) from `sock` to `port` at `pps` against
 * absolute deadlines: every ~1 ms timer tick sends the datagrams that are due (so the offered rate is
 * real without spinning a core that the relay under test needs). Returns each send time (ns).
 */
export async function paceSend(sock: Socket, port: number, n: number, pps: number, size = 64): Promise<bigint[]> {
  return paceSendTo(sock, () => port, n, pps, size);
}

/** As paceSend, with the destination port chosen per datagram (e.g. alternating relays). */
export async function paceSendTo(sock: Socket, portFor: (i: number) => number, n: number, pps: number, size = 64): Promise<bigint[]> {
  const times: bigint[] = [];
  const intervalNs = 1e9 / pps;
  const start = process.hrtime.bigint();
  let i = 0;
  while (i < n) {
    const now = Number(process.hrtime.bigint() - start);
    while (i < n && i * intervalNs <= now) {
      const b = Buffer.alloc(size);
      b.writeUInt32BE(i, 0);
      times.push(process.hrtime.bigint());
      sock.send(b, portFor(i), '127.0.0.1');
      i++;
    }
    if (i < n) await new Promise((r) => setTimeout(r, 1));
  }
  return times;
}

/**
 * Poll until `cond()` holds (every 10 ms), or throw after `timeoutMs` with `what`. For counts that
 * settle once in-flight datagrams are handled: on a loaded machine that can take a while, and a
 * fixed sleep would make the assertion after it flaky.
 */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}
