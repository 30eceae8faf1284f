import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.js';
import type { Io } from '../../../cli/output.js';
import { startEcho } from '../../agent/relay/udp-support.js';

function captureIo(): Io & { outText: () => string; errText: () => string; onOut: (f: (s: string) => void) => void } {
  let out = '';
  let err = '';
  const listeners: ((s: string) => void)[] = [];
  return {
    out: (s) => {
      out += s;
      for (const l of listeners) l(s);
    },
    err: (s) => (err += s),
    isTTY: false,
    outText: () => out,
    errText: () => err,
    onOut: (f) => listeners.push(f),
  };
}

/**
 * Ends a running `backhaul relay` as Ctrl-C does (main() turns SIGINT into its abort). The tests
 * below stop the relay once their traffic has been seen, not after a fixed --duration, which a
 * loaded host could use up before the traffic got through; --duration 30s only bounds a run whose
 * traffic never comes (the assertions then fail).
 */
function interrupt(): void {
  setImmediate(() => process.emit('SIGINT', 'SIGINT'));
}

describe('backhaul relay (CLI)', () => {
  it('relays with a profile file, prints JSON events and final counters, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-cli-'));
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'name: p\ndescription: fixed delay for the CLI test\negress:\n  delay: 5ms\ningress:\n  delay: 5ms\n');
    const echo = await startEcho();
    const io = captureIo();
    const c = createSocket('udp4');
    io.onOut((s) => {
      const ev = JSON.parse(s) as { event: string; listen?: string };
      if (ev.event === 'started') {
        const port = Number(ev.listen!.split(':').pop());
        for (let i = 0; i < 10; i++) c.send(Buffer.from(`m${i}`), port, '127.0.0.1');
      }
    });
    let replies = 0;
    c.on('message', () => {
      replies++;
      if (replies === 10) interrupt();
    });
    const code = await main(['node', 'backhaul', 'relay', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${echo.port}`, '--profile', file, '--seed', '5', '--duration', '30s', '--json'], io);
    c.close();
    await echo.close();
    expect(io.errText()).toBe('');
    expect(code).toBe(0);
    const events = io.outText().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e['event'])).toEqual(['started', 'phase', 'stopped']);
    expect(events[0]).toMatchObject({ proto: 'udp', profile: 'p', seed: 5, timer: 'hybrid' });
    expect(replies).toBe(10);
    expect(events[2]).toMatchObject({ stats: { egress: { packetsIn: 10, packetsOut: 10 }, ingress: { packetsOut: 10 } } });
  });

  it.each([
    [['--listen', 'nope', '--upstream', '127.0.0.1:9', '--profile', 'lte-good'], /--listen: expected HOST:PORT/],
    [['--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--profile', 'no-such-profile'], /no profile named/],
    [['--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--profile', 'lte-good', '--seed', 'x'], /--seed: expected an integer/],
    [['--proto', 'tcp', '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--profile', 'lte-cell-edge'], /TCP relay cannot express/],
  ])('bad input %j exits 2 with a clear message', async (args, msg) => {
    const io = captureIo();
    const code = await main(['node', 'backhaul', 'relay', ...args, '--duration', '10ms'], io);
    expect(code).toBe(2);
    expect(io.errText()).toMatch(msg);
  });

  it('--duration ends the run by itself: exit 0, started and stopped events', async () => {
    const io = captureIo();
    const code = await main(['node', 'backhaul', 'relay', '--listen', '127.0.0.1:0', '--upstream', '127.0.0.1:9', '--profile', 'lte-good', '--duration', '200ms', '--json'], io);
    expect(code).toBe(0);
    const events = io.outText().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e['event'])).toEqual(['started', 'phase', 'stopped']);
  });

  it('--proto tcp --lenient: relays a stream and lists what it ignored', async () => {
    const server = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const io = captureIo();
    let echoed = '';
    io.onOut((s) => {
      const ev = JSON.parse(s) as { event: string; listen?: string };
      if (ev.event === 'started') {
        const c = connect({ port: Number(ev.listen!.split(':').pop()), host: '127.0.0.1' }, () => c.end('hello'));
        c.on('data', (b) => (echoed += b.toString()));
        c.on('close', interrupt);
        c.on('error', () => {});
      }
    });
    // lte-cell-edge has packet loss: TCP cannot express it; --lenient drops it and says so.
    const code = await main(['node', 'backhaul', 'relay', '--proto', 'tcp', '--lenient', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${port}`, '--profile', 'lte-cell-edge', '--duration', '30s', '--json'], io);
    server.close();
    expect(code).toBe(0);
    const started = JSON.parse(io.outText().split('\n')[0]!) as { warnings: string[] };
    expect(started.warnings.join('\n')).toMatch(/loss: not expressible on TCP, ignored/);
    expect(echoed).toBe('hello');
  });

  it('serves Prometheus metrics on --metrics', async () => {
    const echo = await startEcho();
    const io = captureIo();
    let body = '';
    io.onOut((s) => {
      const ev = JSON.parse(s) as { event: string; metrics?: string };
      if (ev.event === 'started') {
        void fetch(ev.metrics!).then(async (r) => (body = await r.text())).finally(interrupt);
      }
    });
    const code = await main(['node', 'backhaul', 'relay', '--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${echo.port}`, '--profile', 'lte-good', '--metrics', '127.0.0.1:0', '--duration', '30s', '--json'], io);
    await echo.close();
    expect(code).toBe(0);
    expect(body).toContain('backhaul_relay_flows');
    expect(body).toContain('backhaul_relay_queue_depth_packets');
  });
});
