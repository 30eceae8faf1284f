/**
 * Ground truth for the probe engine: real namespaces, a veth, nftables drop/dup rules with exact
 * counters. Sender and reflector run as the real CLI (bundled fresh from source) inside the
 * namespaces via `ip netns exec` (Node has no setns).
 *
 *   [a] sender 10.77.0.1 ---- veth ---- 10.77.0.2 reflector :8862 [b]
 *                                        nft (in b): input = forward direction, output = reverse
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { ResultPromise } from 'execa';
import { twoHosts, type TwoHosts } from '../support/netns.js';
import type { ProbeSummary } from '../../probe/stats/summary.js';

const PORT = 8862;
let bundle = '';
let topo: TwoHosts | undefined;
let reflector: ResultPromise | undefined;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-probe-'));
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `import { main } from ${JSON.stringify(join(process.cwd(), 'cli/main.ts'))};\nprocess.exitCode = await main(process.argv);\n`);
  bundle = join(dir, 'backhaul.mjs');
  await build({
    entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}, 120_000);

afterEach(async () => {
  reflector?.kill('SIGKILL');
  reflector = undefined;
  await topo?.destroy();
  topo = undefined;
});

afterAll(async () => {
  await topo?.destroy();
});

async function setup(ruleset: string, stateful = false, family = 'inet'): Promise<TwoHosts> {
  topo = await twoHosts();
  await topo.b.exec(['nft', '-f', '-'], { input: ruleset });
  reflector = topo.b.spawn(['node', bundle, 'reflect', '--listen', `${topo.bIp}:${PORT}`, '--rate', '0', ...(stateful ? ['--stateful'] : [])]);
  // Wait until the reflector answers (a one-probe run).
  for (let i = 0; i < 100; i++) {
    const r = await topo.a.exec(['node', bundle, 'probe', `${topo.bIp}:${PORT}`, '-c', '1', '-t', '500ms', '--json'], { allowFail: true, timeoutMs: 60_000 });
    if (r.exitCode === 0 && (JSON.parse(r.stdout) as ProbeSummary).received === 1) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  // Zero the counters after the readiness probe.
  await topo.b.exec(['nft', 'reset', 'counters', 'table', family, 'bhp']);
  return topo;
}

function probeArgs(t: TwoHosts, extra: string[]): string[] {
  return ['node', bundle, 'probe', `${t.bIp}:${PORT}`, '--json', ...extra];
}

async function runProbe(t: TwoHosts, extra: string[]): Promise<ProbeSummary> {
  const r = await t.a.exec(probeArgs(t, extra), { timeoutMs: 110_000 });
  return JSON.parse(r.stdout) as ProbeSummary;
}

async function counter(t: TwoHosts, name: string, family = 'inet'): Promise<number> {
  const r = await t.b.exec(['nft', '-j', 'list', 'counter', family, 'bhp', name]);
  const j = JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] };
  const c = j.nftables.find((x) => x.counter)?.counter;
  if (!c) throw new Error(`no counter ${name}`);
  return c.packets;
}

const table = (body: string, family = 'inet'): string => `table ${family} bhp {\n${body}\n}\n`;

describe('probe ground truth (namespaces + nftables)', () => {
  it('random drops: lost == the nft drop counter exactly over >= 2000 probes', async () => {
    const t = await setup(table(`
      counter drops {}
      chain input { type filter hook input priority 0; udp dport ${PORT} numgen random mod 100 < 10 counter name drops drop; }`));
    const s = await runProbe(t, ['-i', '2ms', '-c', '2500', '-t', '2s']);
    const drops = await counter(t, 'drops');
    expect(s.rcvbufErrors).toBe(0);
    expect(s.sent).toBe(2500);
    expect(drops).toBeGreaterThan(0);
    expect(s.lost).toBe(drops);
    expect(s.received).toBe(s.sent - drops);
    expect(s.late).toBe(0);
    expect(s.duplicates).toBe(0);
    // binomial sanity: 10% of 2500, 6 sigma = 6 * sqrt(2500 * 0.1 * 0.9) = 90
    expect(Math.abs(drops - 250)).toBeLessThan(90);
  });

  it('scripted outage: one window whose duration is within one interval of dropped x interval', async () => {
    const t = await setup(table(`
      counter outage {}
      counter seen {}
      chain input { type filter hook input priority 0; }`));
    const intervalMs = 10;
    const run = t.a.spawn(probeArgs(t, ['-i', `${intervalMs}ms`, '-d', '6s', '-t', '2s', '--outage-min', '3']));
    // The outage begins once the probe has been sending for a while (30 probes seen at the
    // reflector's host), not after a fixed sleep: the probe's node process may take longer than
    // that to start on a loaded host, and an outage at its start would be open-ended.
    await t.b.exec(['nft', 'add', 'rule', 'inet', 'bhp', 'input', 'udp', 'dport', String(PORT), 'counter', 'name', 'seen']);
    for (const end = Date.now() + 60_000; (await counter(t, 'seen')) < 30;) {
      if (Date.now() > end) throw new Error('the probe sent nothing within 60 s');
      await new Promise((res) => setTimeout(res, 50));
    }
    await t.b.exec(['nft', 'add', 'rule', 'inet', 'bhp', 'input', 'udp', 'dport', String(PORT), 'counter', 'name', 'outage', 'drop']);
    await new Promise((res) => setTimeout(res, 500));
    await t.b.exec(['nft', 'flush', 'chain', 'inet', 'bhp', 'input']);
    const r = await run;
    const s = JSON.parse(String(r.stdout)) as ProbeSummary;
    const dropped = await counter(t, 'outage');
    expect(dropped).toBeGreaterThanOrEqual(3);
    expect(s.lost).toBe(dropped);
    expect(s.outageCount).toBe(1);
    const w = s.outages[0];
    expect(w?.lost).toBe(dropped);
    expect(w?.openStart || w?.openEnd).toBe(false);
    // Sender stalls inside the window stretch it by the slots they skip (the window's own missed).
    expect(w?.missed).toBeLessThanOrEqual(s.missed);
    const slack = (w?.missed as number) * intervalMs;
    expect(Math.abs((w?.durationMs as number) - dropped * intervalMs)).toBeLessThanOrEqual(intervalMs + slack);
    expect(w?.boundMs).toBe(intervalMs);
  });

  it('nftables dup: duplicates == the duplicated replies that reached the sender', async () => {
    // `dup to` (nf_dup_ipv4) exists in the ip family only: copies of replies go straight to 10.77.0.1.
    // nf_dup does not deliver every copy it counts (its counter ran a few % above what reached the
    // sender's interface, kernel 6.18), so the exact ground truth is a counter of replies arriving
    // in the sender's namespace: duplicates = arrivals - answered probes.
    const t = await setup(table(`
      counter dups {}
      chain output { type filter hook output priority 0; udp sport ${PORT} numgen random mod 100 < 5 counter name dups dup to 10.77.0.1 device "b0"; }`, 'ip'), false, 'ip');
    await t.a.exec(['nft', '-f', '-'], { input: table(`
      counter arrivals {}
      chain input { type filter hook input priority 0; udp sport ${PORT} counter name arrivals; }`, 'ip') });
    await t.a.exec(['nft', 'reset', 'counters', 'table', 'ip', 'bhp']);
    const s = await runProbe(t, ['-i', '2ms', '-c', '2000', '-t', '2s']);
    const dups = await counter(t, 'dups', 'ip');
    const r = await t.a.exec(['nft', '-j', 'list', 'counter', 'ip', 'bhp', 'arrivals']);
    const arrivals = (JSON.parse(r.stdout) as { nftables: { counter?: { packets: number } }[] }).nftables.find((x) => x.counter)?.counter?.packets as number;
    expect(s.rcvbufErrors).toBe(0);
    expect(s.lost).toBe(0);
    expect(s.received).toBe(2000);
    expect(arrivals - s.received).toBeGreaterThan(0);
    expect(s.duplicates).toBe(arrivals - s.received);
    expect(s.duplicates).toBeLessThanOrEqual(dups);
  });

  it.each([
    ['forward', 'input', 'dport'],
    ['reverse', 'output', 'sport'],
  ] as const)('per-direction loss with drops only in the %s direction (stateful reflector)', async (dir, hook, port) => {
    const t = await setup(table(`
      counter drops {}
      chain ${hook} { type filter hook ${hook} priority 0; udp ${port} ${PORT} numgen random mod 100 < 5 counter name drops drop; }`), true);
    const s = await runProbe(t, ['-i', '2ms', '-c', '2000', '-t', '2s', '--stateful-reflector']);
    const drops = await counter(t, 'drops');
    expect(drops).toBeGreaterThan(0);
    expect(s.lost).toBe(drops);
    const d = s.direction;
    expect(d).not.toBeNull();
    if (!d) return;
    // Losses after the last answered probe have no direction (nothing tells them apart).
    if (dir === 'forward') {
      expect(d.reverseLost).toBe(0);
      expect(d.forwardLost + d.unknownLost).toBe(drops);
    } else {
      expect(d.forwardLost).toBe(0);
      expect(d.reverseLost + d.unknownLost).toBe(drops);
    }
    expect(d.unknownLost).toBeLessThanOrEqual(5);
  });

  it('the reflector binds the default UDP 862 as root and answers', async () => {
    topo = await twoHosts();
    reflector = topo.b.spawn(['node', bundle, 'reflect']);
    let s: ProbeSummary | undefined;
    for (let i = 0; i < 100 && !(s && s.received === 3); i++) {
      const r = await topo.a.exec(['node', bundle, 'probe', topo.bIp, '-c', '3', '-i', '10ms', '-t', '500ms', '--json'], { allowFail: true, timeoutMs: 60_000 });
      s = r.exitCode === 0 ? (JSON.parse(r.stdout) as ProbeSummary) : undefined;
    }
    expect(s?.received).toBe(3);
  });
});
