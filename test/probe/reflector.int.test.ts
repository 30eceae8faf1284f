import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { FakeClock } from '../../core/clock.js';
import { seededRandom } from '../../core/random.js';
import { parseListen, startReflector, type Reflector } from '../../probe/reflector.js';
import { decodeReflectedPacket, encodeSenderPacket } from '../../probe/wire.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

async function client(): Promise<{ sock: dgram.Socket; replies: Buffer[]; port: number }> {
  const sock = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => sock.close(() => r())));
  return { sock, replies, port: (sock.address() as { port: number }).port };
}

async function reflector(cfg: Parameters<typeof startReflector>[0] = {}, deps: Parameters<typeof startReflector>[1] = {}): Promise<Reflector> {
  const r = await startReflector({ host: '127.0.0.1', port: 0, ratePps: 0, ...cfg }, deps);
  cleanup.push(() => r.close());
  return r;
}

const until = async (cond: () => boolean, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/**
 * Wait (at most `ms`) until `cond` holds and `value` has not changed for `quietMs`: for totals fed
 * by async send callbacks and socket deliveries. Returns without throwing; the caller's assertions
 * then report what was reached.
 */
const settle = async (cond: () => boolean, value: () => number, quietMs = 100, ms = 15_000): Promise<void> => {
  const end = Date.now() + ms;
  let last = value();
  let since = Date.now();
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 10));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (cond() && Date.now() - since >= quietMs) return;
  }
};

describe('reflector interop', () => {
  it('answers a hand-built TWAMP-Light packet (14 octets + 27 padding) with the 44-octet base', async () => {
    const r = await reflector();
    const c = await client();
    const light = Buffer.from('0000002a' + 'e700000080000000' + '0001' + 'ab'.repeat(27), 'hex');
    c.sock.send(light, r.address.port, '127.0.0.1');
    await until(() => c.replies.length === 1);
    const reply = c.replies[0] as Buffer;
    expect(reply.length).toBe(44);
    const d = decodeReflectedPacket(reply);
    expect(d.ok && d.value).toMatchObject({ seq: 42, senderSeq: 42, t1: 0xe7000000_80000000n, senderErrorEstimate: 1, senderTtl: 0, ssid: 0 });
    if (d.ok) expect(d.value.t3 >= d.value.t2).toBe(true);
    expect(reply.subarray(38, 40).equals(Buffer.alloc(2))).toBe(true);
    expect(reply.subarray(41, 44).equals(Buffer.alloc(3))).toBe(true);
  });

  it('answers a STAMP packet symmetrically, copying octets past 44', async () => {
    const r = await reflector();
    const c = await client();
    const p = encodeSenderPacket({ seq: 7, t1: 123n, errorEstimate: 0x8001, ssid: 0x0505 }, 60);
    p.fill(0x5a, 44);
    c.sock.send(p, r.address.port, '127.0.0.1');
    await until(() => c.replies.length === 1);
    const reply = c.replies[0] as Buffer;
    expect(reply.length).toBe(60);
    expect(reply.subarray(44).equals(Buffer.alloc(16, 0x5a))).toBe(true);
    const d = decodeReflectedPacket(reply);
    expect(d.ok && d.value).toMatchObject({ seq: 7, senderSeq: 7, t1: 123n, ssid: 0x0505, senderErrorEstimate: 0x8001 });
  });

  it('stateful: its own counter per session from 0', async () => {
    const r = await reflector({ stateful: true });
    const a = await client();
    const b = await client();
    for (const seq of [100, 101, 105]) a.sock.send(encodeSenderPacket({ seq, t1: 0n, errorEstimate: 1, ssid: 1 }), r.address.port, '127.0.0.1');
    b.sock.send(encodeSenderPacket({ seq: 9, t1: 0n, errorEstimate: 1, ssid: 1 }), r.address.port, '127.0.0.1');
    await until(() => a.replies.length === 3 && b.replies.length === 1);
    const seqs = a.replies.map((m) => { const d = decodeReflectedPacket(m); return d.ok ? [d.value.seq, d.value.senderSeq] : []; });
    expect(seqs.sort((x, y) => (x[0] as number) - (y[0] as number))).toEqual([[0, 100], [1, 101], [2, 105]]);
    const d = decodeReflectedPacket(b.replies[0] as Buffer);
    expect(d.ok && d.value.seq).toBe(0);
  });
});

describe('reflector protections', () => {
  it('per-source token bucket', async () => {
    const clock = new FakeClock(1000);
    const r = await reflector({ ratePps: 10, burst: 5 }, { clock });
    const rinfo = { address: '127.0.0.1', port: 9 };
    const pkt = encodeSenderPacket({ seq: 1, t1: 0n, errorEstimate: 1, ssid: 1 });
    for (let i = 0; i < 10; i++) r.handle(pkt, rinfo);
    expect(r.stats().dropped['rate-limited']).toBe(5);
    await clock.advance(300); // +3 tokens
    for (let i = 0; i < 5; i++) r.handle(pkt, rinfo);
    expect(r.stats().dropped['rate-limited']).toBe(7);
    r.handle(pkt, { address: '127.0.0.2', port: 9 }); // other source: own bucket
    expect(r.stats().dropped['rate-limited']).toBe(7);
  });

  it('allow-list and max size', async () => {
    const r = await reflector({ allow: ['10.0.0.0/8', '::1'], maxPacketBytes: 100 });
    r.handle(encodeSenderPacket({ seq: 1, t1: 0n, errorEstimate: 1, ssid: 1 }), { address: '127.0.0.1', port: 9 });
    r.handle(Buffer.alloc(101), { address: '10.1.2.3', port: 9 });
    expect(r.stats().dropped).toMatchObject({ 'not-allowed': 1, 'too-large': 1 });
    await expect(startReflector({ allow: ['10.0.0.0/33'] })).rejects.toThrow(/allow-list entry/);
  });

  it('parses --listen', () => {
    expect(parseListen('0.0.0.0:8862')).toEqual({ host: '0.0.0.0', port: 8862 });
    expect(parseListen('[::1]:862')).toEqual({ host: '::1', port: 862 });
    expect(parseListen('8862')).toEqual({ host: '0.0.0.0', port: 8862 });
    expect(() => parseListen('host:99999')).toThrow(/--listen/);
    expect(() => parseListen('nonsense')).toThrow(/--listen/);
  });

  it('names the privilege problem for ports < 1024 when not root', async () => {
    if (process.getuid?.() === 0) return; // root may bind anything; covered by the privileged tier
    await expect(startReflector({ host: '127.0.0.1', port: 862 })).rejects.toThrow(/CAP_NET_BIND_SERVICE/);
  });
});

describe('reflector robustness', () => {
  it('100k random datagrams (0..65507 octets, some from unanswerable addresses): no crash, no oversized reply, malformed counted', async () => {
    const r = await reflector({ maxPacketBytes: 65507 });
    const rnd = seededRandom(4242);
    // Spy on the socket's send to check every reply against its request, synchronously.
    let expectShort = 0;
    let oversized = 0;
    let replies = 0;
    let currentLen = 0;
    const origSend = dgram.Socket.prototype.send;
    dgram.Socket.prototype.send = function (this: dgram.Socket, ...args: unknown[]) {
      const buf = args[0] as Buffer;
      replies += 1;
      if (buf.length > Math.max(currentLen, 44)) oversized += 1;
      return (origSend as (...a: unknown[]) => void).apply(this, args);
    } as typeof origSend;
    const c = await client();
    const addresses = [
      { address: '127.0.0.1', port: c.port }, // answerable
      { address: '127.0.0.1', port: 0 }, // port 0: send throws
      { address: '255.255.255.255', port: 9 }, // broadcast without SO_BROADCAST: EACCES
      { address: '127.0.0.1', port: 65536 }, // out of range: send throws
    ];
    try {
      for (let i = 0; i < 100_000; i++) {
        // sizes: mostly small, 2% anywhere up to the UDP maximum
        const len = rnd.next() < 0.02 ? Math.floor(rnd.next() * 65508) : Math.floor(rnd.next() * 200);
        const buf = Buffer.allocUnsafe(len);
        for (let k = 0; k < Math.min(len, 64); k++) buf[k] = rnd.nextU32() & 0xff;
        currentLen = len;
        if (len < 14) expectShort += 1;
        r.handle(buf, addresses[rnd.nextU32() % addresses.length] as { address: string; port: number });
      }
    } finally {
      dgram.Socket.prototype.send = origSend;
    }
    // every send callback has run once reflected + send errors account for every answerable request
    const answered = (): number => r.stats().reflected + r.stats().dropped['send-error'];
    await settle(() => answered() === 100_000 - expectShort, answered, 0);
    const s = r.stats();
    expect(s.received).toBe(100_000);
    expect(s.malformed['too-short']).toBe(expectShort);
    expect(oversized).toBe(0);
    expect(s.maxReplyOverRequestBytes).toBeLessThanOrEqual(44 - 14);
    expect(s.dropped['send-error']).toBeGreaterThan(0);
    expect(s.reflected + s.dropped['send-error']).toBe(100_000 - expectShort);
    // still alive and answering over the real socket
    const before = c.replies.length;
    c.sock.send(encodeSenderPacket({ seq: 1, t1: 0n, errorEstimate: 1, ssid: 1 }), r.address.port, '127.0.0.1');
    await until(() => c.replies.length > before);
  });

  it('survives a real-socket flood of random datagrams and keeps answering', async () => {
    const r = await reflector({ maxPacketBytes: 65507 });
    const c = await client();
    const rnd = seededRandom(7);
    let sent = 0;
    for (let i = 0; i < 5000; i++) {
      const len = rnd.next() < 0.05 ? Math.floor(rnd.next() * 65508) : Math.floor(rnd.next() * 120);
      c.sock.send(Buffer.alloc(len, i & 0xff), r.address.port, '127.0.0.1');
      sent += 1;
      if (i % 200 === 0) await new Promise((res) => setImmediate(res));
    }
    // deliveries and send callbacks are async: wait until the totals add up and stop moving
    const total = (x: ReturnType<typeof r.stats>): number => x.reflected + x.malformed['too-short'] + Object.values(x.dropped).reduce((a, b) => a + b, 0);
    await settle(() => r.stats().received === total(r.stats()), () => r.stats().received + total(r.stats()));
    const s = r.stats();
    expect(s.received).toBeGreaterThan(0);
    expect(s.received).toBeLessThanOrEqual(sent);
    expect(s.received).toBe(s.reflected + s.malformed['too-short'] + Object.values(s.dropped).reduce((a, b) => a + b, 0));
    for (const m of c.replies) expect(m.length).toBeGreaterThanOrEqual(44);
    const before = c.replies.length;
    c.sock.send(encodeSenderPacket({ seq: 1, t1: 0n, errorEstimate: 1, ssid: 1 }), r.address.port, '127.0.0.1');
    await until(() => c.replies.length > before);
  });
});
