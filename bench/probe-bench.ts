/**
 * Probe benchmarks, side by side with Debian's irtt in the same run (needs root for the netns part,
 * irtt, nft, GNU time). Prints a Markdown report on stdout.
 *
 *   npx esbuild bench/probe-bench.ts --bundle --platform=node --format=esm --outfile=.cache/probe-bench.mjs --external:esbuild \
 *     --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
 *     && node --expose-gc .cache/probe-bench.mjs [secondsPerTimerRun=30]
 *
 * 1. Timer modes at 1 ms x N s on loopback: missed slots, schedule error mean/p99, CPU, RTT p50/p99
 *    (ours: sleep, hybrid, busy; irtt: comp (default), busy).
 * 2. Reflector capacity (pps) with 3 flood generator processes; baseline: a bare Node dgram echo.
 * 3. Memory after 1e6 probes (stats engine in-process; baseline: irtt's RSS growth per round trip).
 * 4. nft-impaired path (namespaces, 5% random drop on the reflector input): loss and RTT vs irtt,
 *    both checked against the nft counter.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ProbeStats } from '../probe/stats/engine.js';

const SECONDS = Number(process.argv[2] ?? 30);
const dir = mkdtempSync(join(tmpdir(), 'probe-bench-'));
const repo = process.cwd();

interface Ran { stdout: string; stderr: string; code: number | null; userS: number; sysS: number; maxRssKb: number }

function run(argv: string[], opts: { timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const timeFile = join(dir, `time-${Math.random().toString(36).slice(2)}`);
    const p = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%U %S %M', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = opts.timeoutMs ? setTimeout(() => p.kill('SIGINT'), opts.timeoutMs) : undefined;
    p.on('close', (code) => {
      if (t) clearTimeout(t);
      let userS = NaN, sysS = NaN, maxRssKb = NaN;
      try {
        [userS, sysS, maxRssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
      } catch { /* no timing */ }
      resolve({ stdout, stderr, code, userS, sysS, maxRssKb });
    });
  });
}

function start(argv: string[]): { stop: () => Promise<string> } {
  const p = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exited = false;
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<void>((res) => p.on('close', () => { exited = true; res(); }));
  return {
    stop: async () => {
      if (exited) throw new Error(`${argv.join(' ')} exited early: ${err}`);
      p.kill('SIGINT');
      await closed;
      return out;
    },
  };
}

/** Ports for this run (avoid colliding with other users of the machine). */
const BASE = 20000 + (process.pid % 20000);
const P_REFL = BASE, P_IRTT = BASE + 1, P_CAP = BASE + 2, P_ECHO = BASE + 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => xs.length ? (xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] as number) : NaN;
const f = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function bundleCli(): Promise<string> {
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `import { main } from ${JSON.stringify(join(repo, 'cli/main.ts'))};\nprocess.exitCode = await main(process.argv);\n`);
  const out = join(dir, 'backhaul.mjs');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
  return out;
}

interface IrttRes { sent: number; received: number; lossPct: number; misses: number; timerErrMeanMs: number; timerErrMaxMs: number; rttP50: number; rttP99: number }
function readIrtt(file: string): IrttRes {
  const d = JSON.parse(readFileSync(file, 'utf8')) as {
    stats: { packets_sent: number; packets_received: number; packet_loss_percent: number; timer_misses: number; timer_error: { mean: number; max: number } };
    round_trips: { lost: string | boolean; delay?: { rtt?: number } }[];
  };
  const rtts = d.round_trips.map((r) => r.delay?.rtt).filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  return {
    sent: d.stats.packets_sent, received: d.stats.packets_received, lossPct: d.stats.packet_loss_percent, misses: d.stats.timer_misses,
    timerErrMeanMs: d.stats.timer_error.mean / 1e6, timerErrMaxMs: d.stats.timer_error.max / 1e6,
    rttP50: pct(rtts, 50) / 1e6, rttP99: pct(rtts, 99) / 1e6,
  };
}

const rssNotes: string[] = [];

async function timers(cli: string): Promise<string[]> {
  const lines = ['| tool / timer | sent | missed slots | schedule error mean / p99 (ms) | CPU (% of a core) | RTT p50 / p99 (ms) |', '|---|---|---|---|---|---|'];
  const refl = start(['node', cli, 'reflect', '--listen', `127.0.0.1:${P_REFL}`, '--rate', '0']);
  const irttd = start(['irtt', 'server', '-b', `127.0.0.1:${P_IRTT}`, '-i', '0']);
  await sleep(1500);
  for (const mode of ['sleep', 'hybrid', 'busy']) {
    const r = await run(['node', cli, 'probe', `127.0.0.1:${P_REFL}`, '-i', '1ms', '-d', `${SECONDS}s`, '--timer', mode, '--json']);
    const s = JSON.parse(r.stdout) as { sent: number; missed: number; sendLatenessMs: { mean: number; p99: number }; rttMs: { p50: number; p99: number } };
    rssNotes.push(`| backhaul probe ${mode}, ${s.sent} probes (process) | - | max RSS ${f(r.maxRssKb / 1024, 1)} MiB | whole Node process |`);
    lines.push(`| backhaul ${mode} | ${s.sent} | ${s.missed} (${f((100 * s.missed) / (s.sent + s.missed), 2)}%) | ${f(s.sendLatenessMs.mean)} / ${f(s.sendLatenessMs.p99)} | ${f((100 * (r.userS + r.sysS)) / SECONDS, 1)} | ${f(s.rttMs.p50)} / ${f(s.rttMs.p99)} |`);
  }
  for (const timer of ['comp', 'busy']) {
    const out = join(dir, `irtt-${timer}.json`);
    const r = await run(['irtt', 'client', '-i', '1ms', '-d', `${SECONDS}s`, `--timer=${timer}`, '-Q', '-o', out, `127.0.0.1:${P_IRTT}`]);
    if (r.code !== 0) throw new Error(`irtt client failed: ${r.stderr}`);
    const s = readIrtt(out);
    rssNotes.push(`| irtt client --timer=${timer}, ${s.sent} probes (process) | - | max RSS ${f(r.maxRssKb / 1024, 1)} MiB | irtt keeps every round trip in memory |`);
    lines.push(`| irtt ${timer} | ${s.sent} | ${s.misses} (${f((100 * s.misses) / (s.sent + s.misses), 2)}%) | ${f(s.timerErrMeanMs)} / n/a (max ${f(s.timerErrMaxMs)}) | ${f((100 * (r.userS + r.sysS)) / SECONDS, 1)} | ${f(s.rttP50)} / ${f(s.rttP99)} |`);
  }
  await refl.stop();
  await irttd.stop();
  return lines;
}

const FLOOD = `
import dgram from 'node:dgram';
const [port, ms] = process.argv.slice(2).map(Number);
const s = dgram.createSocket('udp4');
const buf = Buffer.alloc(44); let sent = 0; let got = 0;
s.on('message', () => got++);
s.connect(port, '127.0.0.1', async () => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) { buf.writeUInt32BE(sent >>> 0, 0); s.send(buf); sent++; }
    await new Promise((r) => setImmediate(r));
  }
  setTimeout(() => { console.log(JSON.stringify({ sent, got })); process.exit(0); }, 300);
});`;
const ECHO = `
import dgram from 'node:dgram';
const s = dgram.createSocket('udp4'); let n = 0;
s.on('message', (m, r) => { n++; s.send(m, r.port, r.address); });
s.bind(Number(process.argv[2]), '127.0.0.1');
process.on('SIGINT', () => { console.log(JSON.stringify({ reflected: n })); process.exit(0); });`;

async function capacity(cli: string): Promise<string[]> {
  writeFileSync(join(dir, 'flood.mjs'), FLOOD);
  writeFileSync(join(dir, 'echo.mjs'), ECHO);
  const lines = ['| reflector | generators | offered (pps) | answered (pps) |', '|---|---|---|---|'];
  const ms = 5000;
  for (const [name, argv, port] of [
    ['backhaul reflect (stateless)', ['node', cli, 'reflect', '--listen', `127.0.0.1:${P_CAP}`, '--rate', '0', '--json'], P_CAP],
    ['baseline: bare Node dgram echo', ['node', join(dir, 'echo.mjs'), String(P_ECHO)], P_ECHO],
  ] as const) {
    const srv = start([...argv]);
    await sleep(1500);
    const gens = await Promise.all([0, 1, 2].map(() => run(['node', join(dir, 'flood.mjs'), String(port), String(ms)])));
    const out = await srv.stop();
    const sent = gens.reduce((a, g) => a + (JSON.parse(g.stdout.trim()) as { sent: number }).sent, 0);
    const got = gens.reduce((a, g) => a + (JSON.parse(g.stdout.trim()) as { got: number }).got, 0);
    const reflected = (JSON.parse(out.slice(out.indexOf('{'))) as { reflected: number }).reflected;
    lines.push(`| ${name} | 3 | ${Math.round(sent / (ms / 1000))} | ${Math.round(reflected / (ms / 1000))} (received back by generators: ${Math.round(got / (ms / 1000))}) |`);
  }
  return lines;
}

function memory(): string[] {
  const used = (): number => { global.gc?.(); const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const MS = 1e6;
  const before = used();
  const s = new ProbeStats({ intervalNs: MS, timeoutNs: 1000 * MS, windowSize: 4096, outageMinLost: 3, directional: true, toWallMs: (n) => n / MS });
  let k = 0;
  const feed = (n: number): void => {
    for (; k < n; k++) {
      s.sent(k, k * MS, k * MS + 5000);
      if (k % 100 !== 0) s.reply(k, k * MS + 300_000 + (k % 7) * 10_000, 20_000, k);
      if (k % 64 === 0) s.expire(k * MS);
    }
  };
  feed(100_000);
  const at1e5 = used();
  feed(1_000_000);
  s.finish();
  const at1e6 = used();
  const mib = (b: number): string => f(b / 1048576, 2);
  return [
    ...rssNotes,
    `| stats engine (in-process, heap + ArrayBuffers) | ${mib(at1e5 - before)} MiB after 1e5 probes | ${mib(at1e6 - before)} MiB after 1e6 probes | growth 1e5 -> 1e6: ${mib(at1e6 - at1e5)} MiB (constant: ring of 4096 + 4 HDR histograms) |`,
    '| irtt (documented, doc/irtt.md) | ~80 B per round trip | ~80 MB for 1e6 | keeps every round trip until the end |',
  ];
}

async function impaired(cli: string): Promise<string[]> {
  const ns = (n: string, argv: string[]): string[] => ['ip', 'netns', 'exec', n, ...argv];
  const a = `bpa${process.pid.toString(36)}`;
  const b = `bpb${process.pid.toString(36)}`;
  const sh = (argv: string[], input?: string): string => execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', ...(input ? { input } : {}) });
  const lines = ['| tool | sent | lost (nft counter) | loss % | RTT p50 / p99 (ms) |', '|---|---|---|---|---|'];
  try {
    sh(['ip', 'netns', 'add', a]);
    sh(['ip', 'netns', 'add', b]);
    sh(['ip', 'link', 'add', `v${a}`, 'type', 'veth', 'peer', 'name', `v${b}`]);
    sh(['ip', 'link', 'set', `v${a}`, 'netns', a]);
    sh(['ip', 'link', 'set', `v${b}`, 'netns', b]);
    sh(ns(a, ['ip', 'addr', 'add', '10.79.0.1/24', 'dev', `v${a}`]));
    sh(ns(b, ['ip', 'addr', 'add', '10.79.0.2/24', 'dev', `v${b}`]));
    for (const [n, d] of [[a, `v${a}`], [b, `v${b}`]]) { sh(ns(n as string, ['ip', 'link', 'set', d as string, 'up'])); sh(ns(n as string, ['ip', 'link', 'set', 'lo', 'up'])); }
    sh(ns(b, ['nft', '-f', '-']), `table inet bench {
      counter ours {}
      counter irtt {}
      chain input {
        type filter hook input priority 0;
        udp dport 8862 numgen random mod 100 < 5 counter name ours drop
        udp dport 2112 numgen random mod 100 < 5 counter name irtt drop
      }
    }
`);
    const refl = start(ns(b, ['node', cli, 'reflect', '--listen', '10.79.0.2:8862', '--rate', '0']));
    const irttd = start(ns(b, ['irtt', 'server', '-b', '10.79.0.2:2112', '-i', '0']));
    await sleep(1500);
    const secs = Math.min(SECONDS, 20);
    const counter = (name: string): number => (JSON.parse(sh(ns(b, ['nft', '-j', 'list', 'counter', 'inet', 'bench', name]))) as { nftables: { counter?: { packets: number } }[] }).nftables.find((x) => x.counter)?.counter?.packets ?? NaN;
    let prevOurs = 0;
    for (const timer of ['hybrid', 'sleep']) {
      const ours = await run(ns(a, ['node', cli, 'probe', '10.79.0.2:8862', '-i', '10ms', '-d', `${secs}s`, '--timer', timer, '--json']));
      const o = JSON.parse(ours.stdout) as { sent: number; lost: number; missed: number; lossRatio: number; rttMs: { p50: number; p99: number } };
      const c = counter('ours');
      lines.push(`| backhaul --timer ${timer} | ${o.sent} (missed ${o.missed}) | ${o.lost} (${c - prevOurs}) | ${f(o.lossRatio * 100, 2)} | ${f(o.rttMs.p50)} / ${f(o.rttMs.p99)} |`);
      prevOurs = c;
    }
    const out = join(dir, 'irtt-imp.json');
    await run(ns(a, ['irtt', 'client', '-i', '10ms', '-d', `${secs}s`, '-Q', '-o', out, '10.79.0.2:2112']));
    const i = readIrtt(out);
    lines.push(`| irtt (comp timer) | ${i.sent} (missed ${i.misses}) | ${i.sent - i.received} (${counter('irtt')}, includes the handshake) | ${f(i.lossPct, 2)} | ${f(i.rttP50)} / ${f(i.rttP99)} |`);
    await refl.stop();
    await irttd.stop();
  } finally {
    try { sh(['ip', 'netns', 'del', a]); } catch { /* gone */ }
    try { sh(['ip', 'netns', 'del', b]); } catch { /* gone */ }
  }
  return lines;
}

const SECTIONS = (process.argv[3] ?? 'timers,capacity,memory,impaired').split(',');
const cli = await bundleCli();
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`Load average at start: ${loadavg()}\n`);
const section = async (name: string, title: string, body: () => Promise<string[]> | string[]): Promise<void> => {
  if (!SECTIONS.includes(name)) return;
  try {
    console.log([`### ${title}`, '', ...(await body()), ''].join('\n'));
  } catch (e) {
    console.log(`### ${title}\n\nFAILED: ${(e as Error).message}\n`);
  }
};
await section('timers', `Timer modes, 1 ms x ${SECONDS} s, loopback`, () => timers(cli));
await section('capacity', 'Reflector capacity (44-octet packets, loopback, 5 s)', () => capacity(cli));
await section('memory', 'Memory after 1e6 probes', () => ['| what | | | note |', '|---|---|---|---|', ...memory()]);
await section('impaired', `nft-impaired path (5% random drop toward the reflector), 10 ms x ${Math.min(SECONDS, 20)} s`, () => impaired(cli));
console.log(`Load average at end: ${loadavg()}`);
