import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../cli/main.js';
import type { Io } from '../../../cli/output.js';
import { startReflector, type Reflector } from '../../../probe/reflector.js';
import type { ProbeSummary } from '../../../probe/stats/summary.js';
import { parseDurationMs } from '../../../cli/commands/probe.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

function io(): Io & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, out: (t: string) => { o.stdout += t; }, err: (t: string) => { o.stderr += t; } };
  return o;
}

async function reflector(): Promise<Reflector> {
  const r = await startReflector({ host: '127.0.0.1', port: 0, ratePps: 0 });
  cleanup.push(() => r.close());
  return r;
}

// Where every reply is expected: -t 5s, so that an event-loop stall of this process (probe and
// reflector share it) cannot push a loopback reply past the timeout (the default 1 s).
describe('backhaul probe', () => {
  it('--json prints the documented summary', async () => {
    const r = await reflector();
    const o = io();
    const code = await main(['node', 'backhaul', 'probe', `127.0.0.1:${r.address.port}`, '-c', '50', '-i', '2ms', '-t', '5s', '--json'], o);
    expect(code).toBe(0);
    const s = JSON.parse(o.stdout) as ProbeSummary;
    for (const k of ['sent', 'received', 'lost', 'late', 'duplicates', 'reordered', 'missed', 'jitterMs', 'outages']) expect(s).toHaveProperty(k);
    for (const k of ['min', 'p50', 'p90', 'p99', 'p999', 'max', 'mean', 'stddev']) expect(s.rttMs).toHaveProperty(k);
    expect(s).toMatchObject({ sent: 50, received: 50, lost: 0 });
    expect(s.histogram?.rtt).toBeTruthy();
  });

  it('--jsonl prints snapshots then the summary as JSON lines', async () => {
    const r = await reflector();
    const o = io();
    const code = await main(['node', 'backhaul', 'probe', `127.0.0.1:${r.address.port}`, '-d', '2500ms', '-i', '10ms', '--jsonl'], o);
    expect(code).toBe(0);
    const lines = o.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; sent: number });
    expect(lines.at(-1)?.type).toBe('summary');
    expect(lines.filter((l) => l.type === 'snapshot').length).toBeGreaterThanOrEqual(1);
  });

  it('the human table names the key figures', async () => {
    const r = await reflector();
    const o = io();
    await main(['node', 'backhaul', 'probe', `127.0.0.1:${r.address.port}`, '-c', '10', '-i', '2ms', '-t', '5s'], o);
    expect(o.stdout).toMatch(/10 sent, 10 received, 0 lost/);
    expect(o.stdout).toMatch(/rtt\s+min/);
    expect(o.stdout).toMatch(/outages\s+0/);
  });

  it.each([
    [['probe', 'x:1', '-i', 'fast'], /--interval: "fast" is not a duration/],
    [['probe', 'x:1', '-s', '20'], /--size must be an integer 44\.\.65507/],
    [['probe', 'udp://x:1'], /unknown scheme/],
    [['probe', '127.0.0.1:1', '--window', '3', '-t', '1s', '-i', '10ms'], /sequence window must be/],
    [['reflect', '--listen', 'nope'], /--listen must be/],
  ])('bad input %j exits 2 with a clear message', async (args, msg) => {
    const o = io();
    const code = await main(['node', 'backhaul', ...args], o);
    expect(code).toBe(2);
    expect(o.stderr).toMatch(msg);
  });

  it('parses durations', () => {
    expect(parseDurationMs('-i', '10ms')).toBe(10);
    expect(parseDurationMs('-i', '1.5s')).toBe(1500);
    expect(parseDurationMs('-i', '500us')).toBe(0.5);
    expect(parseDurationMs('-i', '2m')).toBe(120_000);
    expect(parseDurationMs('-i', '7')).toBe(7);
  });
});

describe('backhaul reflect', () => {
  it('runs for --duration and prints its counters as JSON', async () => {
    const o = io();
    const code = await main(['node', 'backhaul', 'reflect', '--listen', '127.0.0.1:0', '-d', '200ms', '--json'], o);
    expect(code).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ received: 0, reflected: 0 });
    expect(o.stderr).toMatch(/reflecting on 127\.0\.0\.1:\d+/);
  });
});
