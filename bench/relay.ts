/**
 * Relay benchmarks, each next to a baseline measured in the same run:
 *   1. added-delay error (received - sent - configured 5 ms) p50/p99 at 1k and 10k packets/s per
 *      timer mode, with the relay process's CPU and GC pauses; baseline: the same traffic sent
 *      straight to the sink (no relay).
 *   2. UDP packets/s through the relay with an empty profile vs straight to the sink.
 *   3. TCP Gbit/s through the relay with an empty profile vs direct (iperf3, 3 s each).
 * The relay runs in a child process (this same file in `host` mode), as it would in production;
 * the traffic generator and sink run here.
 *
 *   npx esbuild bench/relay.ts --bundle --platform=node --format=esm --packages=external --outfile=.cache/relay-bench.mjs
 *   node .cache/relay-bench.mjs [seconds-per-run] [delay|udp|tcp]     (BENCH_PPS=, BENCH_TIMER= narrow the delay runs)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { execa } from 'execa';
import { startRelay } from '../agent/relay/relay.js';
import type { Impairment, Profile } from '../core/profile.js';
import { createWaiter, type TimerMode, type Waiter } from '../probe/timer.js';
import { paceSend } from '../test/agent/relay/udp-support.js';

interface HostCfg {
  proto: 'udp' | 'tcp';
  upstream: string;
  egress: Impairment;
  timer: TimerMode;
}

interface HostReport {
  cpuPct: number;
  gcCount: number;
  gcMaxMs: number;
  gcTotalMs: number;
  wallS: number;
  /** Waiter figures: waits done, mean lateness of a wait (us), time spent spinning (ms). */
  waits: number;
  waitLatenessMeanUs: number;
  spinMs: number;
}

/** Child role: run one relay, print its port, report CPU and GC when stdin closes. */
async function host(cfg: HostCfg): Promise<void> {
  const gc: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gc.push(e.duration);
  });
  obs.observe({ entryTypes: ['gc'] });
  const profile: Profile = { name: 'bench', description: 'bench', egress: cfg.egress };
  const waiters: Waiter[] = [];
  const relay = await startRelay(
    { proto: cfg.proto, listen: '127.0.0.1:0', upstream: cfg.upstream, profile, timer: cfg.timer, seed: 1 },
    {
      createWaiter: (mode, clock) => {
        const w = createWaiter(mode, clock);
        waiters.push(w);
        return w;
      },
    },
  );
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  process.stdout.write(JSON.stringify({ port: relay.listen.port }) + '\n');
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.once('end', () => r()));
  const cpu = process.cpuUsage(cpu0);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  await relay.stop();
  obs.disconnect();
  const report: HostReport = {
    cpuPct: ((cpu.user + cpu.system) / 1e6 / wallS) * 100,
    gcCount: gc.length,
    gcMaxMs: gc.length ? Math.max(...gc) : 0,
    gcTotalMs: gc.reduce((a, b) => a + b, 0),
    wallS,
    waits: waiters.reduce((a, w) => a + w.stats().waits, 0),
    waitLatenessMeanUs: (() => {
      const st = waiters.map((w) => w.stats());
      const n = st.reduce((a, x) => a + x.waits, 0);
      return n ? Number(st.reduce((a, x) => a + x.totalLatenessNs, 0n)) / n / 1e3 : 0;
    })(),
    spinMs: Number(waiters.reduce((a, w) => a + w.stats().spinNs, 0n)) / 1e6,
  };
  process.stdout.write(JSON.stringify(report) + '\n');
}

interface Child {
  port: number;
  finish(): Promise<HostReport>;
}

async function spawnHost(cfg: HostCfg): Promise<Child> {
  const self = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, [self, 'host', JSON.stringify(cfg)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  let notify: (() => void) | null = null;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      notify?.();
    }
  });
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((r) => (notify = r));
    return lines.shift()!;
  };
  const { port } = JSON.parse(await nextLine()) as { port: number };
  return {
    port,
    finish: async () => {
      child.stdin!.end();
      const rep = JSON.parse(await nextLine()) as HostReport;
      await new Promise((r) => child.once('exit', r));
      return rep;
    },
  };
}

async function sink(): Promise<{ sock: Socket; port: number; recv: Map<number, bigint>; count: () => number }> {
  const sock = createSocket('udp4');
  const recv = new Map<number, bigint>();
  let n = 0;
  sock.on('message', (m) => {
    n++;
    recv.set(m.readUInt32BE(0), process.hrtime.bigint());
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  sock.setRecvBufferSize(4 << 20);
  return { sock, port: sock.address().port, recv, count: () => n };
}

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function delayError(seconds: number): Promise<void> {
  const delayMs = 5;
  console.log(`\n## Added-delay error (configured ${delayMs} ms, ${seconds} s per run; error = received - sent - ${delayMs} ms)\n`);
  console.log('| pps | timer | relay err p50 (us) | relay err p99 (us) | unsent at stop | relay CPU % | GC pauses (n / max ms / total ms) | direct p50 (us) | direct p99 (us) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const ppsList = process.env['BENCH_PPS'] ? [Number(process.env['BENCH_PPS'])] : [1000, 10_000];
  const timers = process.env['BENCH_TIMER'] ? [process.env['BENCH_TIMER'] as TimerMode] : (['sleep', 'hybrid', 'busy'] as const);
  for (const pps of ppsList) {
    for (const timer of timers) {
      const s = await sink();
      const tx = createSocket('udp4');
      // baseline: straight to the sink, same pattern
      const direct = await paceSend(tx, s.port, Math.round(pps * Math.min(seconds, 2)), pps);
      await sleep(100);
      const dErr = direct.map((t, i) => (s.recv.has(i) ? Number(s.recv.get(i)! - t) / 1e3 : NaN)).filter((x) => !Number.isNaN(x));
      s.recv.clear();
      const child = await spawnHost({ proto: 'udp', upstream: `127.0.0.1:${s.port}`, egress: { delayMs, limitPackets: 100_000 }, timer });
      const sent = await paceSend(tx, child.port, Math.round(pps * seconds), pps);
      await sleep(delayMs + 300);
      const rep = await child.finish();
      const errs: number[] = [];
      for (let i = 0; i < sent.length; i++) {
        const r = s.recv.get(i);
        if (r !== undefined) errs.push(Number(r - sent[i]!) / 1e3 - delayMs * 1000);
      }
      if (process.env['BENCH_DEBUG']) console.error(JSON.stringify(rep));
      console.log(
        `| ${pps} | ${timer} | ${pct(errs, 0.5).toFixed(0)} | ${pct(errs, 0.99).toFixed(0)} | ${sent.length - errs.length} | ${rep.cpuPct.toFixed(0)} | ${rep.gcCount} / ${rep.gcMaxMs.toFixed(1)} / ${rep.gcTotalMs.toFixed(0)} | ${pct(dErr, 0.5).toFixed(0)} | ${pct(dErr, 0.99).toFixed(0)} |`,
      );
      tx.close();
      s.sock.close();
    }
  }
}

/** Offer as much as the sender can for `seconds`; count what the sink gets per second. */
async function blast(port: number, seconds: number, s: { count: () => number }): Promise<{ sentPps: number; recvPps: number }> {
  const tx = createSocket('udp4');
  await new Promise<void>((r) => tx.bind(0, '127.0.0.1', () => r()));
  tx.setSendBufferSize(4 << 20);
  const buf = Buffer.alloc(64);
  const c0 = s.count();
  let sent = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let k = 0; k < 64; k++) {
      tx.send(buf, port, '127.0.0.1');
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await sleep(300);
  tx.close();
  return { sentPps: sent / seconds, recvPps: (s.count() - c0) / seconds };
}

async function udpThroughput(seconds: number): Promise<void> {
  console.log(`\n## UDP packets/s, 64-byte datagrams, empty profile (${seconds} s each)\n`);
  console.log('| path | offered pps | delivered pps | relay CPU % | GC pauses (n / max ms) |');
  console.log('|---|---|---|---|---|');
  const s = await sink();
  const d = await blast(s.port, seconds, s);
  console.log(`| direct | ${d.sentPps.toFixed(0)} | ${d.recvPps.toFixed(0)} | - | - |`);
  const child = await spawnHost({ proto: 'udp', upstream: `127.0.0.1:${s.port}`, egress: {}, timer: 'hybrid' });
  const r = await blast(child.port, seconds, s);
  const rep = await child.finish();
  console.log(`| relay | ${r.sentPps.toFixed(0)} | ${r.recvPps.toFixed(0)} | ${rep.cpuPct.toFixed(0)} | ${rep.gcCount} / ${rep.gcMaxMs.toFixed(1)} |`);
  s.sock.close();
}

async function iperf(port: number, seconds: number): Promise<number> {
  const r = await execa('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J'], { reject: false, timeout: (seconds + 20) * 1000 });
  if (r.exitCode !== 0) throw new Error(`iperf3 client failed: ${r.stderr || r.stdout.slice(0, 300)}`);
  const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return j.end.sum_received.bits_per_second / 1e9;
}

async function tcpThroughput(seconds: number): Promise<void> {
  console.log(`\n## TCP Gbit/s (iperf3, ${seconds} s each, one stream)\n`);
  console.log('| path | Gbit/s | relay CPU % | GC pauses (n / max ms / total ms) |');
  console.log('|---|---|---|---|');
  const srvPort = 45000 + Math.floor(Math.random() * 5000);
  const server = execa('iperf3', ['-s', '-p', String(srvPort)], { reject: false });
  await sleep(500);
  try {
    const direct = await iperf(srvPort, seconds);
    console.log(`| direct | ${direct.toFixed(2)} | - | - |`);
    const child = await spawnHost({ proto: 'tcp', upstream: `127.0.0.1:${srvPort}`, egress: {}, timer: 'hybrid' });
    const via = await iperf(child.port, seconds);
    const rep = await child.finish();
    console.log(`| relay (empty profile) | ${via.toFixed(2)} | ${rep.cpuPct.toFixed(0)} | ${rep.gcCount} / ${rep.gcMaxMs.toFixed(1)} / ${rep.gcTotalMs.toFixed(0)} |`);
    const child2 = await spawnHost({ proto: 'tcp', upstream: `127.0.0.1:${srvPort}`, egress: { delayMs: 5, rateKbit: 500_000 }, timer: 'hybrid' });
    const via2 = await iperf(child2.port, seconds);
    const rep2 = await child2.finish();
    console.log(`| relay (5 ms + 500 Mbit/s egress) | ${via2.toFixed(2)} | ${rep2.cpuPct.toFixed(0)} | ${rep2.gcCount} / ${rep2.gcMaxMs.toFixed(1)} / ${rep2.gcTotalMs.toFixed(0)} |`);
  } finally {
    server.kill('SIGTERM');
  }
}

if (process.argv[2] === 'host') {
  await host(JSON.parse(process.argv[3]!) as HostCfg);
} else {
  const seconds = Number(process.argv[2] ?? 3);
  const { stdout: kernel } = await execa('uname', ['-r']);
  console.log(`# relay bench: node ${process.version}, kernel ${kernel}, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const only = process.argv[3];
  if (!only || only === 'delay') await delayError(seconds);
  if (!only || only === 'udp') await udpThroughput(Math.min(seconds, 3));
  if (!only || only === 'tcp') await tcpThroughput(Math.min(seconds, 3));
}
