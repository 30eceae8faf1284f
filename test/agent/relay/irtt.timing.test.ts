/**
 * Independent measurement: Debian's irtt client -> relay -> irtt server on loopback, 12.5 ms fixed
 * delay per direction (25 ms round trip).
 *
 * The raw irtt RTT includes what the path costs besides the relay's delay: irtt client and server
 * wake-ups, the relay's receive path, loopback. On a busy 2-core build machine that is 0.2-1 ms
 * and varies with load, so it is measured in the same run: a second irtt client, concurrently,
 * through a second relay with 3 ms each way. That is the same wake-up structure: every packet is
 * held by the timer, the hybrid waiter sleeps (setTimeout) and then spins for both relays, and
 * every process sleeps between packets (with 1 ms the waiter would only spin and never pay the
 * wake-up). The criterion:
 *   median(RTT via 12.5+12.5 ms) within 0.5 ms of 25 ms + overhead, overhead = median(RTT via 3.5+3.5 ms) - 7 ms
 * i.e. the relay adds the configured 18 ms difference to within 0.5 ms. Both relays use half-millisecond
 * delays, so the hybrid timer's CPU budget (a denied spin sleeps to the next whole millisecond)
 * costs both paths alike. Raw median and p99 are
 * printed for the notes (bench/RESULTS.md).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { Profile } from '../../../core/profile.js';
import { startRelay } from '../../../agent/relay/relay.js';
import { quantile } from './stats-support.js';
import { reservePort, waitForUdpBound } from '../../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function requireIrtt(): Promise<void> {
  const r = await execa('irtt', ['version'], { reject: false });
  if (r.exitCode !== 0) throw new Error('irtt is not installed: apt-get install irtt (scripts/install-test-deps.sh)');
}

/**
 * 12.5 ms each way: releases fall between irtt's 10 ms send grid (at +2.5 and +5 ms of it), so the
 * relay's releases, the server's replies and the client's next sends do not pile up on the same
 * instant on a 2-core machine (with 10 ms each way every event of a round trip coincides with a send).
 */
const ONE_WAY_MS = 12.5;
const RTT_MS = 2 * ONE_WAY_MS;
const BASE_ONE_WAY_MS = 3.5;

interface IrttJson {
  stats: { rtt: { median?: number; min: number; max: number }; packets_sent: number };
  round_trips: { delay?: { rtt?: number } }[];
}

interface IrttRun {
  rtts: number[];
  median: number;
  p90: number;
  p99: number;
  min: number;
  sent: number;
}

async function irttClient(port: number, out: string): Promise<IrttRun> {
  const client = await execa('irtt', ['client', '-i', '10ms', '-d', '5s', '--wait=1s', '-Q', '-o', out, `127.0.0.1:${port}`], { reject: false, timeout: 30_000 });
  if (client.exitCode !== 0) throw new Error(`irtt client failed (${client.exitCode}): ${client.stderr}`);
  const j = JSON.parse(readFileSync(out, 'utf8')) as IrttJson;
  const rtts = j.round_trips.filter((r) => r.delay?.rtt !== undefined).map((r) => r.delay!.rtt! / 1e6);
  return { rtts, median: quantile(rtts, 0.5), p90: quantile(rtts, 0.9), p99: quantile(rtts, 0.99), min: j.stats.rtt.min / 1e6, sent: j.stats.packets_sent };
}

describe('irtt through the relay', () => {
  it('RTT median within 0.5 ms of the configured 2 x 12.5 ms plus the path overhead measured in the same run; p99 reported', async () => {
    await requireIrtt();
    // irtt's server takes its UDP port on the command line: reserved (test/support/ports.ts), not
    // a TCP port found free by bind-then-close.
    const serverPort = await reservePort();
    const server = execa('irtt', ['server', '-b', `127.0.0.1:${serverPort}`], { reject: false });
    let serverLog = '';
    server.stderr?.on('data', (d: Buffer) => (serverLog += String(d)));
    cleanups.push(async () => {
      server.kill('SIGTERM');
      await server; // exited before the next test (reject: false: never throws)
    });
    const fixed: Profile = { name: 'fixed', description: 'fixed 12.5 ms each way', egress: { delayMs: ONE_WAY_MS }, ingress: { delayMs: ONE_WAY_MS } };
    const base3: Profile = { name: 'three', description: '3.5 ms each way', egress: { delayMs: BASE_ONE_WAY_MS }, ingress: { delayMs: BASE_ONE_WAY_MS } };
    const relay = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${serverPort}`, profile: fixed, seed: 1, timer: 'hybrid' });
    const base = await startRelay({ proto: 'udp', listen: '127.0.0.1:0', upstream: `127.0.0.1:${serverPort}`, profile: base3, seed: 1, timer: 'hybrid' });
    cleanups.push(() => relay.stop(), () => base.stop());
    await waitForUdpBound(serverPort, 30_000, () => serverLog); // the server is up
    const dir = mkdtempSync(join(tmpdir(), 'irtt-'));
    // A run is valid only if the machine did not stall during it: a stall of S ms delays every
    // packet in flight, and the 25 ms path has ~4x the packets in flight of the 7 ms one, so long
    // stalls shift the two medians differently and no same-run baseline can cancel them. Valid =
    // the baseline's p90 within 5 ms of its configured 7 ms. Up to 3 runs; the criterion is asserted
    // on the first valid one; none valid fails, saying the host was too busy to measure.
    let valid: { d: IrttRun; b: IrttRun } | null = null;
    for (let attempt = 1; attempt <= 3 && !valid; attempt++) {
      const [d, b] = await Promise.all([
        irttClient(relay.listen.port, join(dir, `delayed-${attempt}.json`)),
        irttClient(base.listen.port, join(dir, `base-${attempt}.json`)),
      ]);
      const overhead = b.median - 2 * BASE_ONE_WAY_MS;
      const ok = b.p90 <= 2 * BASE_ONE_WAY_MS + 5;
      console.log(
        `irtt via relay (12.5 ms + 12.5 ms), run ${attempt}${ok ? '' : ' (host stalled: not used)'}: ${d.rtts.length}/${d.sent} replies, RTT min ${d.min.toFixed(3)} median ${d.median.toFixed(3)} p99 ${d.p99.toFixed(3)} ms; ` +
          `3.5+3.5 ms relay median ${b.median.toFixed(3)} p90 ${b.p90.toFixed(3)} p99 ${b.p99.toFixed(3)} ms -> path overhead ${overhead.toFixed(3)} ms; criterion |${d.median.toFixed(3)} - (${RTT_MS} + ${overhead.toFixed(3)})| < 0.5`,
      );
      // Mechanism: the relay never releases early, so no round trip is shorter than the configured one.
      expect(d.min).toBeGreaterThanOrEqual(RTT_MS);
      expect(b.min).toBeGreaterThanOrEqual(2 * BASE_ONE_WAY_MS);
      if (ok) valid = { d, b };
    }
    const st = relay.stats();
    console.log(`relay counters: egress in ${st.egress.packetsIn} out ${st.egress.packetsOut}, ingress in ${st.ingress.packetsIn} out ${st.ingress.packetsOut}, drops ${JSON.stringify(st.egress.drops)} ${JSON.stringify(st.ingress.drops)}`);
    // The relay itself drops nothing without a loss model (what irtt misses is lost elsewhere).
    expect(st.egress.drops).toEqual({});
    expect(st.ingress.drops).toEqual({});
    expect(st.ingress.packetsOut).toBe(st.ingress.packetsIn);
    if (!valid) throw new Error('the host stalled in all 3 irtt runs (baseline p90 > 11 ms): too busy to measure sub-ms RTT; rerun on a quieter host');
    const { d, b } = valid;
    expect(d.rtts.length).toBeGreaterThan(0.9 * d.sent);
    expect(Math.abs(d.median - (RTT_MS + (b.median - 2 * BASE_ONE_WAY_MS)))).toBeLessThan(0.5);
  }, 120_000);
});
